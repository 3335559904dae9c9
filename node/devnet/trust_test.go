package devnet_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/gateway"
	"jiexu/node"
	"jiexu/node/devnet"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
	"jiexu/registry"
)

// Tests of issue 10's findings, each against running nodes: the attack as
// an attacker would make it, and what the node answers.

// countIn counts occurrences of s in a file.
func countIn(t *testing.T, path, s string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), s)
}

// waitLog waits (bounded) until a node's log holds more than n lines with s.
func waitLog(t *testing.T, tn *testNet, region, s string, n int) {
	t.Helper()
	path := filepath.Join(layoutOf(t, tn.Layout, region).Dir, "node.log")
	for i := 0; i < 400; i++ {
		if countIn(t, path, s) > n {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s's log never showed %q", region, s)
}

// waitVersion waits (bounded) until a node holds a snapshot version.
func waitVersion(t *testing.T, tn *testNet, region string, want uint64) {
	t.Helper()
	var got uint64
	for i := 0; i < 400; i++ {
		if got = tn.Node(region).Gateway().Directory().Version(); got == want {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s holds snapshot version %d, want %d", region, got, want)
}

// publish signs the registry folder with signer and the CA's current list,
// which the running registry then serves.
func publish(t *testing.T, tn *testNet, signer *certs.Signer) *jiexuv1.SignedSnapshot {
	t.Helper()
	crl, err := certs.LoadCRL(filepath.Join(tn.Layout.CADir, certs.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.SignDirectory(tn.Layout.RegistryDir, registry.DefaultTable(), signer, crl, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forge signs a snapshot of the registry's directory with any key, any
// version and any revocation list, as the holder of a stolen key would, and
// puts it where the registry serves it.
func forge(t *testing.T, tn *testNet, signer *certs.Signer, version uint64, crl []byte) {
	t.Helper()
	snap, err := registry.LoadDirectory(tn.Layout.RegistryDir)
	if err != nil {
		t.Fatal(err)
	}
	registry.Stamp(snap, version, time.Now(), 24*time.Hour)
	snap.RevocationList = crl
	data, _ := proto.MarshalOptions{Deterministic: true}.Marshal(snap)
	seal, err := signer.Seal(certs.DomainSnapshot, data)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := proto.Marshal(&jiexuv1.SignedSnapshot{Snapshot: data, Seal: seal})
	path := filepath.Join(tn.Layout.RegistryDir, registry.SnapshotFile)
	if err := os.WriteFile(path+".tmp", wire, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func loadSigner(t *testing.T, dir string) *certs.Signer {
	t.Helper()
	kp, err := certs.LoadKeyPair(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return kp.Signer()
}

// Finding 1: with the registry's certificate revoked, a snapshot signed with
// the old key and carrying the network's first, empty revocation list was
// installed, and a revoked node was accepted again; a snapshot of the held
// version with other content was installed too.
func TestRevokedRegistryKeyCannotRollBackRevocation(t *testing.T) {
	tn := startNet(t, devnet.Options{RegistryRefresh: 50 * time.Millisecond}, hohhot)
	ctx := context.Background()
	firstCRL, err := certs.LoadCRL(filepath.Join(tn.Layout.CADir, certs.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	stolen := loadSigner(t, tn.Layout.RegistryTLS)
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	notify := func(id string) error {
		req := notice(bt, hohhot, "150200-20261123-000031", id, tn.people(hohhot)[0].GetPerson())
		bt.seal(t, req)
		_, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, req)
		return err
	}

	// The CA revokes 包头's certificate and the registry's (its key was
	// stolen); a new registry certificate publishes that list.
	ca, err := certs.LoadCA(tn.Layout.CADir)
	if err != nil {
		t.Fatal(err)
	}
	baotouCert, _ := certs.LoadCertificate(filepath.Join(layoutOf(t, tn.Layout, baotou).Dir, certs.CertFile))
	if _, err := ca.Revoke([]*big.Int{baotouCert.SerialNumber, stolen.Cert.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	successorDir := filepath.Join(t.TempDir(), "registry-tls-2")
	if _, err := ca.Issue(certs.IssueRequest{Role: certs.RoleRegistry, Name: "jiexu registry 2"}, successorDir); err != nil {
		t.Fatal(err)
	}
	successor := loadSigner(t, successorDir)
	publish(t, tn, successor)
	waitVersion(t, tn, hohhot, 2)
	if err := notify("before-attack"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("revoked 包头 before the attack: %v, want Unauthenticated", err)
	}

	// The attack: version 401 with the stolen key and the first list.
	logFile := filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "node.log")
	refused := countIn(t, logFile, "refused")
	forge(t, tn, stolen, 401, firstCRL)
	for i := 0; i < 400 && countIn(t, logFile, "refused") == refused && tn.Node(hohhot).Gateway().Directory().Version() == 2; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	if v := tn.Node(hohhot).Gateway().Directory().Version(); v != 2 {
		t.Errorf("after the forged snapshot the node holds version %d, want 2", v)
	}
	if err := notify("after-attack"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("revoked 包头 after the forged snapshot: %v, want Unauthenticated", err)
	}

	// The registry, misused, signs version 2 again with other content: the
	// node refuses it rather than quietly replacing what it holds.
	dir, err := registry.LoadDirectory(tn.Layout.RegistryDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range dir.GetNodes() {
		if n.GetRegion() == baotou {
			n.Address = "203.0.113.9:7443"
		}
	}
	crl, _ := certs.LoadCRL(filepath.Join(tn.Layout.CADir, certs.CRLFile))
	registry.Stamp(dir, 2, time.Now(), time.Hour)
	dir.RevocationList = crl
	other, err := registry.Sign(dir, successor)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := tn.Node(hohhot).Gateway().Directory().Install(other); err == nil {
		t.Errorf("a snapshot of the held version with other content was accepted (changed %v)", changed)
	}
	if n, _ := tn.Node(hohhot).Gateway().Directory().Router(); n != nil {
		if node, _ := n.Node(baotou); node.GetAddress() == "203.0.113.9:7443" {
			t.Fatal("the node routes by the conflicting snapshot")
		}
	}
}

// tightLimits are small enough to reach in a test.
func tightLimits() *node.Limits {
	l := node.DefaultLimits()
	l.PeerRate, l.PeerBurst, l.PeerConcurrency = 20, 40, 8
	l.LookupRate, l.LookupBurst = 0.01, 5
	l.MaxConnections, l.MaxStreams = 8, 4
	return &l
}

// Finding 3: one peer pushed 1,505 fsynced notifications a second and
// 19,465 certificate look-ups a second, and five 3.5 MB notifications grew
// the store from 0.13 MB to 38 MB. Now each peer has a token bucket (and a
// stricter one for look-ups), calls in flight, a message size and a size for
// every field; beyond them it hears ResourceExhausted with a retry hint.
func TestPeerLimits(t *testing.T) {
	tn := startNet(t, devnet.Options{Limits: tightLimits()}, hohhot)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	client := jiexuv1.NewTransferServiceClient(bt.conn)
	person := tn.people(hohhot)[0].GetPerson()
	notify := func(caseID string, p *jiexuv1.Person) error {
		req := notice(bt, hohhot, caseID, gateway.NewMessageID(), p)
		bt.seal(t, req)
		_, err := client.NotifyTransfer(ctx, req)
		return err
	}

	// A flood of notifications from 16 goroutines.
	const calls = 300
	var mu sync.Mutex
	var ok, limited, other int
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < calls; i += 16 {
				err := notify(fmt.Sprintf("150200-20261123-%06d", i), person)
				_, hint := limits.RetryAfter(err)
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case status.Code(err) == codes.ResourceExhausted && hint:
					limited++
				default:
					other++
					t.Errorf("notification %d: %v", i, err)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if most := 40 + int(20*elapsed.Seconds()) + 1; ok > most || limited == 0 {
		t.Errorf("%d of %d notifications accepted in %s, %d refused with a retry hint; want at most %d accepted (burst 40, 20/s)",
			ok, calls, elapsed.Round(time.Millisecond), limited, most)
	}
	cases, err := tn.Clients[hohhot].ListCases(ctx, &jiexuv1.ListCasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cases.GetCases()) != ok {
		t.Errorf("%d cases stored, %d notifications accepted", len(cases.GetCases()), ok)
	}

	// Look-ups have a bucket of their own: 5, then a retry hint.
	lookup := jiexuv1.NewCertificateServiceClient(bt.conn)
	var answered, refused int
	for i := 1; i <= 50; i++ {
		_, err := lookup.LookupCertificate(ctx, &jiexuv1.LookupCertificateRequest{Number: fmt.Sprintf("蒙呼和浩特2026第%05d号", i), IdNumber: person.GetIdNumber(), VerificationCode: "AAAA-BBBB-CCCC"})
		if _, hint := limits.RetryAfter(err); hint {
			refused++
		} else {
			answered++
		}
	}
	if answered > 5 || refused == 0 {
		t.Errorf("look-ups: %d answered, %d refused; want at most 5 answered", answered, refused)
	}

	// Oversized fields: the whole message beyond 256 KiB, and one field
	// beyond its own bound; neither reaches the store.
	time.Sleep(time.Second) // a token or two for the next calls
	huge := proto.Clone(person).(*jiexuv1.Person)
	huge.HouseholdPlace = strings.Repeat("地", 3500*1024/3)
	if err := notify("150200-20261123-900001", huge); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 3.5 MB notification: %v, want ResourceExhausted", err)
	}
	long := proto.Clone(person).(*jiexuv1.Person)
	long.HouseholdPlace = strings.Repeat("地", 20000)
	err = notify("150200-20261123-900002", long)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "person.household_place") || len(err.Error()) > 1000 {
		t.Errorf("a 60 KB household place: %.300v, want InvalidArgument naming person.household_place, briefly", err)
	}
	after, _ := tn.Clients[hohhot].ListCases(ctx, &jiexuv1.ListCasesRequest{})
	if len(after.GetCases()) != ok {
		t.Errorf("oversized notifications stored cases: %d, was %d", len(after.GetCases()), ok)
	}
}

// Each inter-node listener caps its connections and the calls on one
// connection.
func TestPeerListenerCaps(t *testing.T) {
	tn := startNet(t, devnet.Options{Limits: tightLimits()}, hohhot)
	dir := layoutOf(t, tn.Layout, baotou).Dir
	check := func(p *peer, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := healthpb.NewHealthClient(p.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	// Eight connections are open (the cap); a ninth gets no answer until
	// one of them closes.
	var open []*peer
	for i := 0; i < 8; i++ {
		p := dialAs(t, tn, baotou, dir, hohhot)
		if err := check(p, 10*time.Second); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, p)
	}
	ninth := dialAs(t, tn, baotou, dir, hohhot)
	if err := check(ninth, 500*time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a ninth connection: %v, want no answer (DeadlineExceeded)", err)
	}
	ninth.conn.Close() // it waits in the queue; it would take the next place
	open[0].conn.Close()
	if err := check(dialAs(t, tn, baotou, dir, hohhot), 10*time.Second); err != nil {
		t.Fatalf("after one closed: %v", err)
	}

	// Four calls in flight on one connection (health watches stay open); a
	// fifth waits for one of them.
	p := open[1]
	ctx, cancel := context.WithCancel(context.Background())
	for i := 0; i < 4; i++ {
		w, err := healthpb.NewHealthClient(p.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
	}
	if err := check(p, 500*time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("a fifth call on the connection: %v, want it held (DeadlineExceeded)", err)
	}
	cancel()
	if err := check(p, 10*time.Second); err != nil {
		t.Errorf("after the watches ended: %v", err)
	}
}

// Finding 5: a look-up told a wrong number from a wrong ID number, and a
// certificate the CA issued for a registered region, but that the registry
// does not list, sealed messages and certificates.
func TestLookupAndSealers(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.people(hohhot)[0]
	c := certificateFor(t, tn, p, hohhot, hulunbuir)
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	code := tn.codeOf(hohhot, c.GetCertificateNumber())
	lookup := func(number, id, code string) error {
		_, err := jiexuv1.NewCertificateServiceClient(bt.conn).LookupCertificate(ctx, &jiexuv1.LookupCertificateRequest{Number: number, IdNumber: id, VerificationCode: code})
		return err
	}
	other := tn.people(hohhot)[1].GetPerson().GetIdNumber()
	if err := lookup(c.GetCertificateNumber(), p.GetPerson().GetIdNumber(), code); err != nil {
		t.Fatalf("look-up with all three right: %v", err)
	}
	wrongID := lookup(c.GetCertificateNumber(), other, code)
	wrongNumber := lookup("蒙呼和浩特2026第09999号", p.GetPerson().GetIdNumber(), code)
	wrongCode := lookup(c.GetCertificateNumber(), p.GetPerson().GetIdNumber(), "AAAA-BBBB-CCCC") // number and ID known, no consent
	if status.Code(wrongID) != codes.NotFound || status.Convert(wrongID).Message() != status.Convert(wrongNumber).Message() ||
		status.Code(wrongID) != status.Code(wrongNumber) || status.Convert(wrongCode).Message() != status.Convert(wrongNumber).Message() {
		t.Errorf("a wrong ID number answers %v; a wrong number %v; a wrong code %v; want the same NotFound", wrongID, wrongNumber, wrongCode)
	}
	if _, err := jiexuv1.NewCertificateServiceClient(bt.conn).LookupCertificate(ctx, &jiexuv1.LookupCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: p.GetPerson().GetIdNumber()}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a look-up without a verification code: %v, want InvalidArgument", err)
	}
	// Each look-up is logged with who asked for which number, the ID number masked.
	log := filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "node.log")
	data := readLog(t, log)
	if n := strings.Count(data, "certificate look-up"); n != 4 || !strings.Contains(data, "caller=\"peer region 150200\"") ||
		!strings.Contains(data, c.GetCertificateNumber()) || strings.Contains(data, other) {
		t.Errorf("look-up log: %d lines, caller named %v, number %v, whole ID %v", n,
			strings.Contains(data, "peer region 150200"), strings.Contains(data, c.GetCertificateNumber()), strings.Contains(data, other))
	}

	// An operator's check at the destination is logged there too.
	if _, err := tn.Clients[hulunbuir].CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: p.GetPerson().GetIdNumber(), VerificationCode: code}); err != nil {
		t.Fatalf("CheckCertificate: %v", err)
	}
	destLog := readLog(t, filepath.Join(layoutOf(t, tn.Layout, hulunbuir).Dir, "node.log"))
	if !strings.Contains(destLog, "certificate look-up") || !strings.Contains(destLog, "caller=\"operator uid ") || !strings.Contains(destLog, "issuer=150100") {
		t.Error("the destination's log does not record the operator's check")
	}

	// A second certificate for 包头 from the CA: genuine, but not the one the
	// registry lists. It seals a message sent over 包头's listed connection.
	ca, err := certs.LoadCA(tn.Layout.CADir)
	if err != nil {
		t.Fatal(err)
	}
	spare := filepath.Join(t.TempDir(), "baotou-2")
	if _, err := ca.Issue(certs.IssueRequest{Role: certs.RoleNode, Region: baotou, Name: "包头 (unlisted)"}, spare); err != nil {
		t.Fatal(err)
	}
	unlisted := loadSigner(t, spare)
	req := notice(bt, hohhot, "150200-20261123-000077", "unlisted-1", tn.people(hohhot)[2].GetPerson())
	if err := gateway.SealMessage(unlisted, req); err != nil {
		t.Fatal(err)
	}
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a message sealed by an unlisted certificate: %v, want Unauthenticated", err)
	}

	// A certificate sealed by the unlisted key, delivered in a message 包头
	// seals properly, for a case 呼和浩特 (destination) has with 包头.
	rng := rand.New(rand.NewPCG(7, 7))
	person := devnet.SyntheticPeople(rng, registry.DefaultTable(), baotou, "insurance", 1, time.Now())[0]
	open := tn.enrolAndApply(person, baotou, hohhot)
	sc := sealedCertificate(t, &peer{region: baotou, signer: unlisted}, person, 100000000)
	deliver := &jiexuv1.DeliverCertificateRequest{Header: bt.header(hohhot, open.GetCaseId(), "deliver-unlisted"), Certificate: sc}
	bt.seal(t, deliver)
	_, err = jiexuv1.NewCertificateServiceClient(bt.conn).DeliverCertificate(ctx, deliver)
	if err == nil || !strings.Contains(err.Error(), "not one the registry lists") {
		t.Errorf("a certificate sealed by an unlisted certificate: %v, want it refused", err)
	}
	if got := tn.getCase(hohhot, open.GetCaseId()); got.GetCertificateNumber() != "" {
		t.Errorf("the case took the certificate %s", got.GetCertificateNumber())
	}

	// The two certificates given to peers (包头's look-up, 呼伦贝尔's check)
	// are in the issuer's audit trail; the refused look-ups are not.
	tn.StopNode(hohhot)
	cfg, err := node.LoadConfig(layoutOf(t, tn.Layout, hohhot).ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := node.VerifyAuditStore(filepath.Join(cfg.DataDir, "jiexu.db"), ca.Cert)
	if err != nil || r.GetProblem() != "" || r.GetKinds()["lookup"] != 2 {
		t.Errorf("the issuer's audit trail: %v, problem %q, %d look-ups; want 2", err, r.GetProblem(), r.GetKinds()["lookup"])
	}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Finding 6: names took U+202E, zero-width characters and formula
// prefixes, and error texts echoed megabytes of input into logs.
func TestNamesAndEchoes(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	base := tn.people(hohhot)[0]
	put := func(mutate func(*jiexuv1.Person)) (*jiexuv1.Enrolment, error) {
		r := proto.Clone(base).(*jiexuv1.Record)
		mutate(r.Person)
		resp, err := tn.Clients[hohhot].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: r})
		return resp.GetEnrolment(), err
	}
	tests := []struct {
		name   string
		mutate func(*jiexuv1.Person)
		field  string
	}{
		{"right-to-left override", func(p *jiexuv1.Person) { p.Name = "王\u202e伟" }, "record.person.name"},
		{"zero-width space", func(p *jiexuv1.Person) { p.Name = "王\u200b伟" }, "record.person.name"},
		{"formula", func(p *jiexuv1.Person) { p.Name = "=HYPERLINK(\"http://x\",\"王伟\")" }, "record.person.name"},
		{"bidi in the place", func(p *jiexuv1.Person) { p.HouseholdPlace = "呼和浩特\u2066市" }, "record.person.household_place"},
		{"formula in the place", func(p *jiexuv1.Person) { p.HouseholdPlace = "@SUM(1+1)*cmd|' /C calc'!A0" }, "record.person.household_place"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := put(tt.mutate)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("PutRecord: %v, want InvalidArgument naming %s", err, tt.field)
			}
		})
	}
	// A decomposed name is stored composed (NFC), without stray spaces.
	r, err := put(func(p *jiexuv1.Person) { p.Name = " Ame\u0301lie " })
	if err != nil || r.GetPerson().GetName() != "Am\u00e9lie" {
		t.Fatalf("PutRecord(decomposed) = %q, %v; want %q", r.GetPerson().GetName(), err, "Am\u00e9lie")
	}
	// From a peer, sealed: refused, not rewritten.
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	p := proto.Clone(tn.people(hohhot)[1].GetPerson()).(*jiexuv1.Person)
	p.Name = "\u202e" + p.GetName()
	req := notice(bt, hohhot, "150200-20261123-000061", "bidi-1", p)
	bt.seal(t, req)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, req); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a peer's name with U+202E: %v, want InvalidArgument", err)
	}

	// A megabyte of input comes back, and goes to the log, in a few hundred bytes.
	logFile := filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "node.log")
	before, _ := os.Stat(logFile)
	_, err = tn.Clients[hohhot].GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: strings.Repeat("9", 1<<20)})
	if status.Code(err) != codes.InvalidArgument || len(err.Error()) > 1000 {
		t.Errorf("a 1 MB ID number: %d bytes of error (%v), want a short InvalidArgument", len(err.Error()), status.Code(err))
	}
	_, err = tn.Clients[hohhot].CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: strings.Repeat("蒙", 300), IdNumber: base.GetPerson().GetIdNumber(), VerificationCode: "AAAA-BBBB-CCCC"})
	if status.Code(err) != codes.InvalidArgument || len(err.Error()) > 1000 {
		t.Errorf("a long certificate number: %d bytes of error, want a short InvalidArgument", len(err.Error()))
	}
	after, _ := os.Stat(logFile)
	if grown := after.Size() - before.Size(); grown > 8<<10 {
		t.Errorf("the log grew by %d bytes for two refused calls", grown)
	}
}

// Finding 6: a node's health service answered revoked callers.
func TestHealthRefusesRevokedCallers(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	check := func() error {
		_, err := healthpb.NewHealthClient(bt.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	ca, err := certs.LoadCA(tn.Layout.CADir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Revoke([]*big.Int{bt.signer.Cert.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	if err := devnet.SignRegistry(tn.Layout, time.Now()); err != nil {
		t.Fatal(err)
	}
	signed, _ := registry.LoadSigned(filepath.Join(tn.Layout.RegistryDir, registry.SnapshotFile))
	if _, err := tn.Node(hohhot).Gateway().Directory().Install(signed); err != nil {
		t.Fatal(err)
	}
	if err := check(); status.Code(err) != codes.Unauthenticated {
		t.Errorf("health check from a revoked caller: %v, want Unauthenticated", err)
	}
	w, err := healthpb.NewHealthClient(bt.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("health watch from a revoked caller: %v, want Unauthenticated", err)
	}
}
