package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"

	"google.golang.org/protobuf/proto"
)

var binary string

// The version and commit the test binary is built with, as a release build
// sets them.
const testVersion, testCommit = "v0.0.0-test", "0123456789ab"

// TestMain builds the binary once; JIEXU_TEST_BINARY runs the tests
// against another build instead (an older version, to see a test fail).
func TestMain(m *testing.M) {
	if bin := os.Getenv("JIEXU_TEST_BINARY"); bin != "" {
		binary = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "jiexu-bin-")
	if err != nil {
		panic(err)
	}
	_ = os.Chmod(dir, 0o755) // the tests run it as user nobody too
	binary = filepath.Join(dir, "jiexu")
	if out, err := exec.Command("go", "build", "-ldflags", "-X jiexu/node.Version="+testVersion+" -X jiexu/node.Commit="+testCommit, "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build jiexu: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// jiexu runs the binary to completion and returns its output.
func jiexu(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("jiexu %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// process is a long-running jiexu serving something.
type process struct {
	t    *testing.T
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func start(t *testing.T, log string, args ...string) *process {
	p := &process{t: t, args: args, log: log}
	p.start()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	return p
}

func (p *process) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	p.cmd = exec.Command(binary, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	p.done = done
	go func() { _ = p.cmd.Wait(); f.Close(); close(done) }()
}

func (p *process) kill(sig syscall.Signal) {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.t.Errorf("jiexu %v did not exit on %v", p.args, sig)
		}
	}
}

// agencyOf connects to a node and waits (bounded) until it holds a snapshot.
func agencyOf(t *testing.T, cfgFile string) jiexuv1.AgencyServiceClient {
	t.Helper()
	cfg, err := node.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	c, conn, err := node.DialAgency(cfg.AgencyListen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	waitReady(t, c)
	return c
}

func waitReady(t *testing.T, c jiexuv1.AgencyServiceClient) {
	t.Helper()
	var err error
	for i := 0; i < 300; i++ {
		var s *jiexuv1.GetStatusResponse
		if s, err = c.GetStatus(context.Background(), &jiexuv1.GetStatusRequest{}); err == nil && s.GetRegistryVersion() > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node not ready: %v", err)
}

func TestSeparateProcessesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const origin, dest = "150100", "150700"
	dir := t.TempDir()
	jiexu(t, "devnet", "init", "--dir", dir, "--regions", origin+","+dest, "--people", "24")
	originCfg := filepath.Join(dir, "nodes", origin, "node.json")
	destCfg := filepath.Join(dir, "nodes", dest, "node.json")
	cfg, err := node.LoadConfig(originCfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, filepath.Join(dir, "registry.log"), "registry", "serve", "--dir", filepath.Join(dir, "registry"), "--listen", cfg.RegistryAddress, "--tls", filepath.Join(dir, "registry", "tls"))
	originProc := start(t, filepath.Join(dir, "origin.log"), "node", "serve", "--config", originCfg)
	destProc := start(t, filepath.Join(dir, "dest.log"), "node", "serve", "--config", destCfg)
	oc, dc := agencyOf(t, originCfg), agencyOf(t, destCfg)

	// Load the origin's people from its CSV through the CLI.
	out := jiexu(t, "records", "import", "--config", originCfg, filepath.Join(dir, "nodes", origin, "records.csv"))
	if !strings.Contains(out, "imported 24 record(s)") {
		t.Fatalf("import said %q", out)
	}
	ctx := context.Background()
	enrolments := devnetPeople(t, ctx, oc)
	people := map[string]*jiexuv1.Period{}
	var before int64
	original := map[string]*jiexuv1.Period{}
	for id, e := range enrolments {
		p := e.GetPeriods()[len(e.GetPeriods())-1]
		before += p.GetBalanceFen() + p.GetHeldFen()
		original[id], people[id] = p, p
	}
	ids := make([]string, 0, len(people))
	for id := range people {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var proofs map[string]devnet.Proof
	suspend := func(id string) {
		t.Helper()
		last := rules.YearMonthOf(time.Now().AddDate(0, -1, 0))
		if rules.MonthIndex(last) < rules.MonthIndex(people[id].GetEnrolledFrom()) {
			last = people[id].GetEnrolledFrom()
		}
		resp, err := oc.SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: last, ConfirmWaiting: true})
		if err != nil {
			t.Fatalf("suspend at origin: %v", err)
		}
		proofs[id] = devnet.Proof{Certificate: certNumber(t, resp.GetCertificate()), Code: rules.VerificationCode(resp.GetCertificate())}
	}
	names := map[string]string{}
	proofs = map[string]devnet.Proof{}
	enrol := func(id string) {
		t.Helper()
		names[id] = enrolments[id].GetPerson().GetName()
		r := &jiexuv1.Record{Person: enrolments[id].GetPerson(), Scheme: people[id].GetScheme()}
		_, err := dc.PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: devnet.DestinationRecord(r, devnet.NodeLayout{Region: dest, Kind: "insurance"}, time.Now())})
		if err != nil {
			t.Fatalf("enrol at destination: %v", err)
		}
	}

	// The first half left the origin before applying: the origin suspended
	// them and issued their certificates. The second half apply while still
	// enrolled there; their cases wait at the origin for the suspension.
	half := len(ids) / 2
	for _, id := range ids[:half] {
		suspend(id)
	}

	// The first transfer is applied from the CLI, as an operator would.
	enrol(ids[0])
	out = jiexu(t, "transfer", "apply", "--config", destCfg, "--id", ids[0], "--name", names[ids[0]], "--origin", origin,
		"--certificate", proofs[ids[0]].Certificate, "--code", proofs[ids[0]].Code)
	m := regexp.MustCompile(`case\s+(\S+) \(destination side\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("transfer apply printed no case id:\n%s", out)
	}
	caseIDs := []string{m[1]}

	// The rest through the agency API; SIGKILL the origin mid-batch and the
	// destination right after, then restart both; the origin suspends the
	// second half after its restart.
	for i, id := range ids[1:] {
		enrol(id)
		pr := proofs[id] // the second half apply before their suspension, without a certificate
		resp, err := dc.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: id, Name: names[id], OriginDivision: origin,
			CertificateNumber: pr.Certificate, VerificationCode: pr.Code})
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		caseIDs = append(caseIDs, resp.GetCase().GetCaseId())
		if i == 8 {
			originProc.kill(syscall.SIGKILL)
		}
		if i == 16 {
			originProc.start()
			waitReady(t, oc)
		}
	}
	for _, id := range ids[half:] {
		suspend(id)
	}
	destProc.kill(syscall.SIGKILL)
	destProc.start()
	waitReady(t, dc)
	waitReady(t, oc)

	for _, log := range []string{"origin.log", "dest.log"} {
		data, _ := os.ReadFile(filepath.Join(dir, log))
		if n := strings.Count(string(data), "node serving"); n != 2 {
			t.Fatalf("%s shows %d starts, want 2 (one before and one after SIGKILL)", log, n)
		}
	}

	// Every case completes, exactly once.
	deadline := time.Now().Add(90 * time.Second)
	for _, id := range caseIDs {
		for {
			d, derr := dc.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: id})
			o, oerr := oc.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: id})
			if derr == nil && oerr == nil && d.GetCase().GetState() == jiexuv1.CaseState_CASE_STATE_COMPLETED && o.GetCase().GetState() == jiexuv1.CaseState_CASE_STATE_CLOSED {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("case %s: destination %v (%v), origin %v (%v)", id, d.GetCase().GetState(), derr, o.GetCase().GetState(), oerr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var after int64
	serials := map[uint32]bool{}
	for _, id := range caseIDs {
		d, _ := dc.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: id})
		c := d.GetCase()
		orig := original[c.GetPerson().GetIdNumber()]
		e, err := dc.GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: c.GetPerson().GetIdNumber()})
		if err != nil {
			t.Fatal(err)
		}
		got := e.GetEnrolment().GetPeriods()[0]
		wantFen, wantMonths := orig.GetBalanceFen(), orig.GetMonthsPaid()
		if orig.GetScheme() != jiexuv1.Scheme_SCHEME_EMPLOYEE { // no personal account, no employee years
			wantFen, wantMonths = 0, 0
		}
		if got.GetBalanceFen() != wantFen || got.GetMonthsRecognised() != wantMonths {
			t.Errorf("%s at destination: %d fen %d months; want %d fen %d months (applied exactly once)", rules.MaskID(c.GetPerson().GetIdNumber()),
				got.GetBalanceFen(), got.GetMonthsRecognised(), wantFen, wantMonths)
		}
		n, err := rules.ParseCertNumber(c.GetCertificateNumber())
		if err != nil {
			t.Fatalf("certificate number %q: %v", c.GetCertificateNumber(), err)
		}
		if serials[n.Serial] {
			t.Errorf("certificate serial %d issued twice", n.Serial)
		}
		serials[n.Serial] = true
	}
	for s := uint32(1); s <= uint32(len(caseIDs)); s++ {
		if !serials[s] {
			t.Errorf("certificate serial %d skipped (serials %v)", s, serials)
		}
	}
	for _, c := range []jiexuv1.AgencyServiceClient{oc, dc} {
		// The counts the store keeps survived the kills: they match the cases.
		st, err := c.GetStatus(ctx, &jiexuv1.GetStatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		all, err := c.ListCases(ctx, &jiexuv1.ListCasesRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		tally := map[string]int32{}
		for _, cs := range all.GetCases() {
			tally[cs.GetSide().String()+"/"+cs.GetState().String()]++
		}
		for _, cc := range st.GetCases() {
			if k := cc.GetSide().String() + "/" + cc.GetState().String(); tally[k] != cc.GetCount() {
				t.Errorf("status counts %d %s cases, the store holds %d", cc.GetCount(), k, tally[k])
			}
			delete(tally, cc.GetSide().String()+"/"+cc.GetState().String())
		}
		if len(tally) != 0 {
			t.Errorf("cases missing from the status counts: %v", tally)
		}
		for _, e := range devnetPeople(t, ctx, c) {
			for _, p := range e.GetPeriods() {
				after += p.GetBalanceFen() + p.GetHeldFen()
			}
		}
		for i := 0; i < 100; i++ {
			ob, _ := c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{})
			if len(ob.GetMessages()) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, dead := range []bool{false, true} {
			if ob, _ := c.ListOutbox(ctx, &jiexuv1.ListOutboxRequest{Dead: dead}); len(ob.GetMessages()) != 0 {
				t.Errorf("outbox (dead=%v) not empty: %v", dead, ob.GetMessages())
			}
		}
	}
	if before != after {
		t.Errorf("balances: %d fen before, %d after", before, after)
	}

	// The origin's old CSV, imported again, would make the people who left
	// active with their balances: the node refuses it, naming the file's
	// lines, and imports nothing.
	csv := filepath.Join(dir, "nodes", origin, "records.csv")
	refused := jiexuFails(t, dir, 1, "records", "import", "--config", originCfg, csv)
	for _, want := range []string{"records.csv:2: period 1", "was transferred out", "nothing imported"} {
		if !strings.Contains(refused, want) {
			t.Errorf("re-import of the origin's CSV lacks %q:\n%s", want, refused)
		}
	}

	// The operator's view from the CLI, and an exported certificate that
	// verifies offline while a tampered copy does not.
	status := jiexu(t, "transfer", "status", "--config", destCfg, caseIDs[0])
	if !strings.Contains(status, "COMPLETED") {
		t.Errorf("transfer status:\n%s", status)
	}
	d, _ := dc.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: caseIDs[0]})
	exported := filepath.Join(dir, "cert.pb")
	page := filepath.Join(dir, "cert.html")
	_ = os.WriteFile(page, nil, 0o644) // an older export, readable by all: it becomes private too
	show := jiexu(t, "cert", "show", "--config", destCfg, d.GetCase().GetCertificateNumber(), "--out", exported, "--html", page)
	if !strings.Contains(show, "累计实际缴费月数") {
		t.Errorf("cert show:\n%s", show)
	}
	for _, f := range []string{exported, page} { // they hold the whole ID number
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	caFile := filepath.Join(dir, "ca", "ca.pem")
	if out := jiexu(t, "cert", "verify", "--ca", caFile, exported); !strings.HasPrefix(out, "OK:") {
		t.Errorf("cert verify: %s", out)
	}
	data, _ := os.ReadFile(exported)
	data[len(data)/3] ^= 0x01
	_ = os.WriteFile(exported, data, 0o644)
	if out, err := exec.Command(binary, "cert", "verify", "--ca", caFile, exported).CombinedOutput(); err == nil {
		t.Errorf("cert verify accepted a tampered file: %s", out)
	}
	st := jiexu(t, "node", "status", "--config", originCfg)
	if !strings.Contains(st, "150700") || !strings.Contains(st, "CLOSED") || !strings.Contains(st, "last answered") {
		t.Errorf("node status:\n%s", st)
	}
}

func TestCLIErrorsSayWhatToDo(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"transfer", "apply", "--id", "x"}, "--name is required"},
		{[]string{"ca", "issue", "--ca", "/nonexistent", "--region", "150100", "--name", "x", "--out", "/tmp/x"}, "jiexu ca init"},
		{[]string{"nosuch"}, "unknown command"},
		{[]string{"transfer", "list"}, "--config FILE"},
	}
	for _, tt := range tests {
		out, err := exec.Command(binary, tt.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("jiexu %v: err %v, output %q; want failure mentioning %q", tt.args, err, out, tt.want)
		}
	}
}

// devnetPeople lists everyone enrolled at a node.
func devnetPeople(t *testing.T, ctx context.Context, c jiexuv1.AgencyServiceClient) map[string]*jiexuv1.Enrolment {
	t.Helper()
	out := map[string]*jiexuv1.Enrolment{}
	resp, err := c.ListEnrolments(ctx, &jiexuv1.ListEnrolmentsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range resp.GetEnrolments() {
		out[e.GetPerson().GetIdNumber()] = e
	}
	return out
}

func certNumber(t *testing.T, sc *jiexuv1.SealedCertificate) string {
	t.Helper()
	var c jiexuv1.Certificate
	if err := proto.Unmarshal(sc.GetCertificate(), &c); err != nil {
		t.Fatal(err)
	}
	return c.GetNumber()
}

// TestRegistryDivisions is 'jiexu registry divisions' as an operator uses it.
func TestRegistryDivisions(t *testing.T) {
	out := jiexu(t, "registry", "divisions", "330103", "412723", "412723197001011230")
	for _, want := range []string{
		"330103 下城区 (浙江省杭州市), abolished 2021 → 330105 拱墅区\n",
		"412723 商水县 (河南省周口地区), abolished 2000 → 411623 商水县\n",
		"412723********1230 issued at 412723 河南省周口地区商水县 (abolished 2000; now 411623 河南省周口市商水县)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("registry divisions: output %q lacks %q", out, want)
		}
	}
	bad, err := exec.Command(binary, "registry", "divisions", "500100").CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "grouping row") {
		t.Errorf("registry divisions 500100: err %v, output %q; want a failure naming the grouping row", err, bad)
	}
}
