package devnet_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

func TestApplicationAtOrigin(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, p)
	// Enrolled at the destination: the destination confirms and the transfer runs.
	if _, err := tn.Clients[hulunbuir].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: devnet.DestinationRecord(p, layoutOf(t, tn.Layout, hulunbuir), time.Now())}); err != nil {
		t.Fatal(err)
	}
	resp, err := tn.Clients[hohhot].ApplyTransferOut(ctx, &jiexuv1.ApplyTransferOutRequest{IdNumber: p.GetPerson().GetIdNumber(), Name: p.GetPerson().GetName(), DestinationDivision: "150702"})
	if err != nil {
		t.Fatalf("ApplyTransferOut: %v", render.DescribeError(err))
	}
	id := resp.GetCase().GetCaseId()
	if resp.GetCase().GetState() != jiexuv1.CaseState_CASE_STATE_REQUESTED || !resp.GetCase().GetAppliedAtOrigin() {
		t.Fatalf("new origin case = %s, applied at origin %v", resp.GetCase().GetState(), resp.GetCase().GetAppliedAtOrigin())
	}
	dest := tn.waitState(hulunbuir, id, jiexuv1.CaseState_CASE_STATE_COMPLETED)
	origin := tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_CLOSED)
	if !dest.GetAppliedAtOrigin() || dest.GetAmountFen() != p.GetBalanceFen() {
		t.Errorf("destination case applied_at_origin=%v amount=%d; want true, %d", dest.GetAppliedAtOrigin(), dest.GetAmountFen(), p.GetBalanceFen())
	}
	// The computed rules are on both sides of the case.
	if origin.GetTransferOutDue() == nil || dest.GetTransferInDue() == nil || dest.GetRegisterBy() == nil || !dest.GetRegisteredInTime() {
		t.Errorf("deadlines or registration window missing: origin due %v, destination due %v, register by %v in time %v",
			origin.GetTransferOutDue(), dest.GetTransferInDue(), dest.GetRegisterBy(), dest.GetRegisteredInTime())
	}
	if dest.GetWaitingReason() == "" || dest.GetWaitingMonths() != 0 {
		t.Errorf("waiting = %d months (%q), want 0 with a reason (no gap)", dest.GetWaitingMonths(), dest.GetWaitingReason())
	}
	if dest.GetOverdue() || origin.GetOverdue() {
		t.Error("a case completed at once is not overdue")
	}

	// Not enrolled at the destination: refused, and the origin case is rejected.
	q := tn.people(hohhot)[1]
	resp, err = tn.Clients[hohhot].ApplyTransferOut(ctx, &jiexuv1.ApplyTransferOutRequest{IdNumber: q.GetPerson().GetIdNumber(), Name: q.GetPerson().GetName(), DestinationDivision: hulunbuir})
	if err != nil {
		t.Fatal(err)
	}
	rej := tn.waitState(hohhot, resp.GetCase().GetCaseId(), jiexuv1.CaseState_CASE_STATE_REFUSED)
	if rej.GetRejectReason() != jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED_AT_DESTINATION {
		t.Errorf("reject reason %s", rej.GetRejectReason())
	}
	if got := tn.period(hohhot, q.GetPerson().GetIdNumber()); got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE || got.GetBalanceFen() != q.GetBalanceFen() {
		t.Errorf("a refused request must leave the origin record alone: %s, %d fen", got.GetStatus(), got.GetBalanceFen())
	}
	// The person may apply again once the refusal is in.
	if _, err := tn.Clients[hohhot].ApplyTransferOut(ctx, &jiexuv1.ApplyTransferOutRequest{IdNumber: q.GetPerson().GetIdNumber(), Name: q.GetPerson().GetName(), DestinationDivision: hulunbuir}); err != nil {
		t.Errorf("second application after a refusal: %v", err)
	}
}

// certificateFor runs one transfer of a person who left the origin and
// returns the destination case.
func certificateFor(t *testing.T, tn *testNet, p *jiexuv1.Record, origin, dest string) *jiexuv1.Case {
	c := tn.move(p, origin, origin, dest)
	done := tn.waitState(dest, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(origin, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_CLOSED)
	return done
}

// codeOf is the verification code of the certificate number as the issuer
// holds it now: what the person's copy shows.
func (tn *testNet) codeOf(issuer, number string) string {
	tn.t.Helper()
	resp, err := tn.Clients[issuer].GetCertificate(context.Background(), &jiexuv1.GetCertificateRequest{Number: number})
	if err != nil {
		tn.t.Fatalf("GetCertificate %s at %s: %v", number, issuer, err)
	}
	return rules.VerificationCode(resp.GetCertificate())
}

func TestReissueAndCheckCertificate(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	p := tn.firstEmployee(hohhot, 0)
	c := certificateFor(t, tn, p, hohhot, hulunbuir)
	id := p.GetPerson().GetIdNumber()
	ca, err := certs.LoadCertificate(filepath.Join(tn.Layout.CADir, certs.CACertFile))
	if err != nil {
		t.Fatal(err)
	}

	// The destination checks a paper copy against the issuer's record.
	code := tn.codeOf(hohhot, c.GetCertificateNumber())
	chk, err := tn.Clients[hulunbuir].CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: id, VerificationCode: code})
	if err != nil {
		t.Fatalf("CheckCertificate: %v", render.DescribeError(err))
	}
	if chk.GetIssuerRegion() != hohhot {
		t.Errorf("issuer = %s, want %s (found from the number)", chk.GetIssuerRegion(), hohhot)
	}
	if _, err := tn.Clients[hulunbuir].CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: tn.people(hohhot)[1].GetPerson().GetIdNumber(), VerificationCode: code}); status.Code(err) != codes.NotFound {
		t.Errorf("check with another ID number: %v, want NotFound", err)
	}
	// Without the person's code (their consent) the issuer says nothing.
	if _, err := tn.Clients[hulunbuir].CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: id, VerificationCode: "AAAA-BBBB-CCCC"}); status.Code(err) != codes.NotFound {
		t.Errorf("check with a wrong verification code: %v, want NotFound", err)
	}

	// Re-issue at the origin: same number and content, marked, sealed anew.
	re, err := tn.Clients[hohhot].ReissueCertificate(ctx, &jiexuv1.ReissueCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: id})
	if err != nil {
		t.Fatalf("ReissueCertificate: %v", render.DescribeError(err))
	}
	cert, err := node.VerifyCertificate(re.GetCertificate(), ca, nil)
	if err != nil {
		t.Fatalf("re-issued certificate does not verify: %v", err)
	}
	if !cert.GetReissue() || cert.GetReissueCount() != 1 || cert.GetReissuedOn() == nil || cert.GetNumber() != c.GetCertificateNumber() ||
		cert.GetBalanceFen() != p.GetBalanceFen() {
		t.Errorf("re-issue = reissue %v count %d on %v number %s balance %d", cert.GetReissue(), cert.GetReissueCount(), cert.GetReissuedOn(), cert.GetNumber(), cert.GetBalanceFen())
	}
	// The person's older copy still opens the issuer's record, which is
	// the re-issued one.
	older, err := tn.Clients[hulunbuir].CheckCertificate(ctx, &jiexuv1.CheckCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: id, VerificationCode: code})
	if err != nil || rules.VerificationCode(older.GetCertificate()) == code {
		t.Errorf("check with the code of the copy before the re-issue: %v; want the re-issued record", err)
	}
	if _, err := tn.Clients[hulunbuir].ReissueCertificate(ctx, &jiexuv1.ReissueCertificateRequest{Number: c.GetCertificateNumber(), IdNumber: id}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("re-issue at a node that did not issue: %v, want FailedPrecondition", err)
	}
	// Renderings: text and the printable page with its three parts and code.
	text := render.RenderText(re.GetCertificate(), cert)
	page, err := render.RenderHTML(re.GetCertificate(), cert)
	if err != nil {
		t.Fatal(err)
	}
	newCode := rules.VerificationCode(re.GetCertificate())
	for _, want := range []string{"补办", cert.GetBalanceWords(), cert.GetBalanceFigures(), newCode} {
		if !strings.Contains(text, want) || !strings.Contains(string(page), want) {
			t.Errorf("renderings lack %q", want)
		}
	}
	for _, part := range []string{"第一联", "第二联", "第三联"} {
		if !strings.Contains(string(page), part) {
			t.Errorf("HTML lacks %s", part)
		}
	}
	screenshot(t, page)
}

// screenshot renders the page in headless Chromium and checks the picture
// is not blank. Skipped, with a reason, where no browser is installed.
func screenshot(t *testing.T, page []byte) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Log("SKIP screenshot: no Chromium installed (.ci/run installs it; apt-get install chromium fonts-wqy-zenhei)")
		return
	}
	dir := t.TempDir()
	html := filepath.Join(dir, "cert.html")
	shot := filepath.Join(dir, "cert.png")
	if err := os.WriteFile(html, page, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--window-size=900,1400", "--screenshot="+shot, "file://"+html).CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	dark, red := 0, 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0x4000 && g < 0x4000 && bl < 0x4000 {
				dark++
			}
			if r > 0xa000 && g < 0x6000 && bl < 0x6000 {
				red++
			}
		}
	}
	if dark < 2000 || red < 50 {
		t.Errorf("screenshot looks blank: %d dark and %d red sample pixels", dark, red)
	}
	if keep := os.Getenv("JIEXU_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		_ = os.WriteFile(keep, data, 0o644)
	}
}

func TestBackupWhileRunning(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	certificateFor(t, tn, tn.people(hohhot)[0], hohhot, hulunbuir)
	stream, err := tn.Clients[hohhot].Backup(ctx, &jiexuv1.BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(chunk.GetChunk())
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, _ := certs.LoadCertificate(filepath.Join(tn.Layout.CADir, certs.CACertFile))
	sum, err := node.VerifyBackup(path, ca)
	if err != nil {
		t.Fatalf("VerifyBackup: %v", err)
	}
	if sum.Enrolments != len(tn.people(hohhot)) || sum.Periods != len(tn.people(hohhot)) || sum.Cases != 1 || sum.Certificates != 1 || sum.RegistryVersion == 0 {
		t.Errorf("backup summary = %+v", sum)
	}
	// A damaged file is refused.
	data := buf.Bytes()
	for i := 4096; i < len(data); i += 4096 {
		data[i+20] ^= 0xff
	}
	_ = os.WriteFile(path, data, 0o600)
	if _, err := node.VerifyBackup(path, ca); err == nil {
		t.Error("VerifyBackup accepted a damaged file")
	}
}

// metricValue reads one sample from a /metrics page.
func metricValue(t *testing.T, page, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func scrape(t *testing.T, tn *testNet, region string) string {
	t.Helper()
	resp, err := http.Get("http://" + tn.Node(region).Addrs().Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestMetricsMoveWithCases(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	before := scrape(t, tn, hulunbuir)
	if v := metricValue(t, before, `jiexu_cases{side="destination",state="completed"}`); v != 0 {
		t.Fatalf("completed before any transfer = %v", v)
	}
	var moved int64
	for i := range 3 {
		p := tn.firstEmployee(hohhot, i)
		certificateFor(t, tn, p, hohhot, hulunbuir)
		moved += p.GetBalanceFen()
	}
	tn.suspend(hohhot, tn.firstEmployee(hohhot, 3))
	proof := tn.proof(hohhot, tn.firstEmployee(hohhot, 3))
	tn.StopNode(hohhot) // the next application queues up
	tn.enrolAndApplyWith(tn.firstEmployee(hohhot, 3), hohhot, hulunbuir, proof)
	var dest, origin string
	for i := 0; i < 100; i++ {
		dest = scrape(t, tn, hulunbuir)
		if metricValue(t, dest, `jiexu_outbox_pending{peer="150100"}`) == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}
	origin = scrape(t, tn, hohhot)
	checks := []struct {
		page, series string
		want         float64
	}{
		{dest, `jiexu_cases{side="destination",state="completed"}`, 3},
		{dest, `jiexu_cases{side="destination",state="applied"}`, 1},
		{dest, `jiexu_cases_completed_total{side="destination"}`, 3},
		{dest, `jiexu_cases_ended_total{side="destination",state="completed"}`, 3},
		{dest, `jiexu_cases_refused_total{side="destination"}`, 0},
		{dest, `jiexu_received_fen_total`, float64(moved)},
		{dest, `jiexu_outbox_pending{peer="150100"}`, 1},
		{dest, `jiexu_registry_snapshot_version`, 1},
		{origin, `jiexu_remitted_fen_total`, 0}, // a restarted process starts its counters again
		{origin, `jiexu_cases{side="origin",state="closed"}`, 3},
	}
	for _, c := range checks {
		if got := metricValue(t, c.page, c.series); got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	if metricValue(t, dest, `jiexu_outbox_oldest_age_seconds{peer="150100"}`) <= 0 {
		t.Error("oldest pending age is not positive while a message waits")
	}
	if !strings.Contains(dest, `grpc_server_handled_total{grpc_code="OK",grpc_method="ApplyTransfer"`) ||
		!strings.Contains(dest, "grpc_client_handled_total") || !strings.Contains(dest, "grpc_server_handling_seconds_bucket") {
		t.Error("gRPC server/client metrics with handling-time histograms are missing")
	}
	if !strings.Contains(dest, `jiexu_cases_refused_total{side="destination"} 0`) {
		t.Error("a counter does not exist before its first event")
	}
	for _, id := range []string{tn.firstEmployee(hohhot, 0).GetPerson().GetIdNumber(), tn.firstEmployee(hohhot, 0).GetPerson().GetIdNumber()[6:14]} {
		if strings.Contains(dest, id) {
			t.Errorf("metrics page contains personal data %q", id)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(dest)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed: 'promtool check metrics' not run here (.ci/run installs it)")
	}
}

func TestHealth(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	resp, err := healthpb.NewHealthClient(bt.conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "jiexu.v1.TransferService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	if reason := tn.Node(hohhot).Health(); reason != "" {
		t.Fatalf("Health() = %q, want healthy", reason)
	}
	// Revoke the node's own certificate: it must report why it cannot serve.
	ca, err := certs.LoadCA(tn.Layout.CADir)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := certs.LoadCertificate(filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, certs.CertFile))
	if _, err := ca.Revoke([]*big.Int{own.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	if err := devnet.SignRegistry(tn.Layout, time.Now()); err != nil {
		t.Fatal(err)
	}
	signed, _ := registry.LoadSigned(filepath.Join(tn.Layout.RegistryDir, registry.SnapshotFile))
	if _, err := tn.Node(hohhot).Gateway().Directory().Install(signed); err != nil {
		t.Fatal(err)
	}
	if reason := tn.Node(hohhot).Health(); reason != "node certificate revoked" {
		t.Fatalf("Health() = %q, want the revocation named", reason)
	}
}

// A transfer-out that cannot finish becomes overdue after 10 working days,
// and a node whose registry snapshot has expired says so: both seen through
// a node whose clock runs ahead.
func TestOverdueAndExpiredSnapshot(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	ctx := context.Background()
	// 包头 (never running) notifies 呼和浩特 of a person still enrolled there:
	// the case waits for the suspension, and nobody suspends.
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	p := tn.people(hohhot)[0]
	req := notice(bt, hohhot, "150200-20261123-000001", "n-1", p.GetPerson())
	bt.seal(t, req)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(ctx, req); err != nil {
		t.Fatal(err)
	}
	c := tn.waitState(hohhot, "150200-20261123-000001", jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)
	if c.GetOverdue() || c.GetTransferOutDue() == nil {
		t.Fatalf("new case: overdue %v, due %v", c.GetOverdue(), c.GetTransferOutDue())
	}
	restart := func(ahead time.Duration) {
		t.Helper()
		tn.StopNode(hohhot)
		if err := tn.StartNode(hohhot, node.WithClock(func() time.Time { return time.Now().Add(ahead) })); err != nil {
			t.Fatal(err)
		}
	}
	restart(20 * 24 * time.Hour) // past 10 working days, inside the snapshot's 30
	if c = tn.getCase(hohhot, c.GetCaseId()); !c.GetOverdue() {
		t.Errorf("20 days later the case is not overdue (due %v)", c.GetTransferOutDue())
	}
	st, err := tn.Clients[hohhot].GetStatus(ctx, &jiexuv1.GetStatusRequest{})
	if err != nil || st.GetOverdueOrigin() != 1 {
		t.Errorf("status overdue_origin = %d, %v; want 1", st.GetOverdueOrigin(), err)
	}
	if got := metricValue(t, scrape(t, tn, hohhot), `jiexu_cases_overdue{side="origin"}`); got != 1 {
		t.Errorf("jiexu_cases_overdue{side=origin} = %v, want 1", got)
	}
	if reason := tn.Node(hohhot).Health(); reason != "" {
		t.Errorf("Health() = %q while the snapshot is still valid", reason)
	}
	restart(31 * 24 * time.Hour) // the devnet snapshot lives 30 days
	if reason := tn.Node(hohhot).Health(); reason != "registry snapshot expired" {
		t.Errorf("Health() = %q, want the expired snapshot named", reason)
	}
}
