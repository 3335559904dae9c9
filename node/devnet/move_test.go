package devnet_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/devnet"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// TestNodeMovesToANewCode moves 呼伦贝尔's node from 150700 to another code
// (150702; only the mechanics matter here, gateway's
// TestRegionMovesToItsNewCode has a real change of code) while a case in
// each direction waits for it: one queued at 呼和浩特 for 150700, one it
// queued as 150700 for 呼和浩特. The node keeps its store, both cases
// complete, and certificates issued under the old code still verify.
func TestNodeMovesToANewCode(t *testing.T) {
	const moved = "150702"
	tn := startNet(t, devnet.Options{Regions: []string{hohhot, hulunbuir}}, hohhot, hulunbuir)
	ctx := context.Background()
	pa := tn.firstEmployee(hulunbuir, 0) // leaves 呼伦贝尔 for 呼和浩特
	pb := tn.firstEmployee(hohhot, 0)    // leaves 呼和浩特 for 呼伦贝尔
	var certA jiexuv1.Certificate
	if err := proto.Unmarshal(tn.suspend(hulunbuir, pa).GetCertificate().GetCertificate(), &certA); err != nil {
		t.Fatal(err)
	}
	tn.suspend(hohhot, pb)
	proofA, proofB := tn.proof(hulunbuir, pa), tn.proof(hohhot, pb) // what each person presents

	// 呼伦贝尔 applies for pb while 呼和浩特 is down: its notice, sealed as
	// 150700, waits in its outbox.
	tn.StopNode(hohhot)
	caseB := tn.enrolAndApplyWith(pb, hohhot, hulunbuir, proofB)
	tn.StopNode(hulunbuir)
	// 呼和浩特 applies for pa while 呼伦贝尔 is down: its notice to 150700 waits.
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}
	caseA := tn.enrolAndApplyWith(pa, hulunbuir, hohhot, proofA)

	// The move: a certificate for the new code, the registry lists the node
	// under it with 150700 as former region, and signs.
	l := tn.Layout
	nl := layoutOf(t, l, hulunbuir)
	ca, err := certs.LoadCA(l.CADir)
	if err != nil {
		t.Fatal(err)
	}
	newDir := filepath.Join(nl.Dir, "moved")
	newCert, err := ca.Issue(certs.IssueRequest{Role: certs.RoleNode, Region: moved, Name: nl.Name, Hosts: []string{"127.0.0.1", "localhost"}}, newDir)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := registry.LoadDirectory(l.RegistryDir)
	if err != nil {
		t.Fatal(err)
	}
	var old *jiexuv1.Node
	for _, n := range dir.GetNodes() {
		if n.GetRegion() == hulunbuir {
			old = n
		}
	}
	entry := &jiexuv1.Node{Region: moved, AgencyName: old.GetAgencyName(), Kind: old.GetKind(), Address: old.GetAddress(),
		MetricsAddress: old.GetMetricsAddress(), Contact: old.GetContact(), FormerRegions: []string{hulunbuir},
		CertificateFingerprints: append([]string{certs.Fingerprint(newCert)}, old.GetCertificateFingerprints()...)}
	if err := registry.AddNode(l.RegistryDir, registry.DefaultTable(), entry); err != nil {
		t.Fatal(err)
	}
	if err := devnet.SignRegistry(l, time.Now()); err != nil {
		t.Fatal(err)
	}
	signed, err := registry.LoadSigned(filepath.Join(l.RegistryDir, registry.SnapshotFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Node(hohhot).Gateway().Directory().Install(signed); err != nil {
		t.Fatal(err)
	}
	// The node: new certificate and region, same store.
	cfg, err := node.LoadConfig(nl.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Region = moved
	cfg.CertFile, cfg.KeyFile = filepath.Join(newDir, certs.CertFile), filepath.Join(newDir, certs.KeyFile)
	if err := node.WriteConfig(nl.ConfigFile, cfg); err != nil {
		t.Fatal(err)
	}
	if err := tn.StartNode(hulunbuir); err != nil { // the layout's name for it; the config says 150702
		t.Fatal(err)
	}
	if _, err := tn.Node(hulunbuir).Gateway().Directory().Install(signed); err != nil {
		t.Fatal(err)
	}
	tn.Node(hohhot).Gateway().WakeAll()
	tn.Node(hulunbuir).Gateway().WakeAll()

	a := tn.waitState(hohhot, caseA.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	b := tn.waitState(hulunbuir, caseB.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	if a.GetOriginRegion() != hulunbuir || a.GetCertificateNumber() != certA.GetNumber() {
		t.Errorf("case A: origin %s, certificate %s; want the old code 150700 and the certificate issued under it, %s",
			a.GetOriginRegion(), a.GetCertificateNumber(), certA.GetNumber())
	}
	if b.GetDestinationRegion() != hulunbuir || b.GetOriginRegion() != hohhot {
		t.Errorf("case B: %s → %s, want %s → %s", b.GetOriginRegion(), b.GetDestinationRegion(), hohhot, hulunbuir)
	}
	// Both outboxes drain: nothing queued under either code is left behind.
	for _, region := range []string{hohhot, hulunbuir} {
		var st *jiexuv1.GetStatusResponse
		for i := 0; i < 400; i++ {
			var err error
			if st, err = tn.Clients[region].GetStatus(ctx, &jiexuv1.GetStatusRequest{}); err != nil {
				t.Fatal(err)
			}
			pending := 0
			for _, p := range st.GetPeers() {
				pending += int(p.GetPending() + p.GetDead())
			}
			if pending == 0 {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
		for _, p := range st.GetPeers() {
			if p.GetPending() != 0 || p.GetDead() != 0 {
				t.Errorf("%s: peer %s has %d pending, %d dead (%s)", region, p.GetRegion(), p.GetPending(), p.GetDead(), p.GetLastError())
			}
		}
		if region == hulunbuir && st.GetRegion() != moved {
			t.Errorf("the moved node says it is %s, want %s", st.GetRegion(), moved)
		}
	}
	// A certificate issued under the old code is re-issued under the new
	// one: same number, sealed and named by the node's code now.
	re, err := tn.Clients[hulunbuir].ReissueCertificate(ctx, &jiexuv1.ReissueCertificateRequest{Number: certA.GetNumber(), IdNumber: pa.GetPerson().GetIdNumber()})
	if err != nil {
		t.Fatalf("re-issue after the move: %v", err)
	}
	got, err := node.VerifyCertificate(re.GetCertificate(), tn.ca(t), nil)
	if err != nil {
		t.Fatalf("the re-issued certificate does not verify: %v", err)
	}
	if got.GetNumber() != certA.GetNumber() || got.GetOriginRegion() != moved || got.GetReissueCount() != 1 {
		t.Errorf("re-issued %s by %s (count %d), want %s by %s (count 1)", got.GetNumber(), got.GetOriginRegion(), got.GetReissueCount(), certA.GetNumber(), moved)
	}
}
