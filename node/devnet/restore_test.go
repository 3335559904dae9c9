package devnet_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/gateway"
	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	"jiexu/node/store"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// backup writes region's store to a backup file, as 'jiexu node backup' does.
func (tn *testNet) backup(region string) string {
	tn.t.Helper()
	path := filepath.Join(tn.t.TempDir(), region+".backup")
	f, err := os.Create(path)
	if err != nil {
		tn.t.Fatal(err)
	}
	defer f.Close()
	stream, err := tn.Clients[region].Backup(context.Background(), &jiexuv1.BackupRequest{})
	if err != nil {
		tn.t.Fatal(err)
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			tn.t.Fatalf("backup of %s: %v", region, err)
		}
		if _, err := f.Write(chunk.GetChunk()); err != nil {
			tn.t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tn.t.Fatal(err)
	}
	if _, err := store.MarkBackup(path, time.Now()); err != nil {
		tn.t.Fatal(err)
	}
	return path
}

// restore stops region and restores its store from backup as 'jiexu node
// restore' does (rolled forward from the peers), and returns the report;
// the caller starts the node again.
func (tn *testNet) restore(region, backup string) string {
	tn.t.Helper()
	tn.StopNode(region)
	var out bytes.Buffer
	cfgFile := layoutOf(tn.t, tn.Layout, region).ConfigFile
	if err := node.Restore(context.Background(), node.RestoreOptions{ConfigFile: cfgFile, From: backup}, &out); err != nil {
		tn.t.Fatalf("Restore of %s: %v\n%s", region, err, out.String())
	}
	tn.t.Log(out.String())
	return out.String()
}

// An origin restored from a backup older than two transfers it completed
// asks its peers and closes them again: the finished cases are not
// REQUESTED (or missing) again, the balances do not reappear, and the two
// sides reconcile without a difference. The peers that are down are named
// with what to run later.
func TestRestoreRollsForwardFromThePeers(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	a, b := tn.firstEmployee(hohhot, 0), tn.firstEmployee(hohhot, 1)
	tn.suspend(hohhot, a)
	tn.suspend(hohhot, b)
	if _, err := tn.Clients[hulunbuir].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: devnet.DestinationRecord(b, layoutOf(t, tn.Layout, hulunbuir), time.Now())}); err != nil {
		t.Fatal(err)
	}
	before := tn.total(t)

	// b applies at the origin while the destination is down: REQUESTED in the backup.
	tn.StopNode(hulunbuir)
	resp, err := tn.Clients[hohhot].ApplyTransferOut(ctx, &jiexuv1.ApplyTransferOutRequest{IdNumber: b.GetPerson().GetIdNumber(), Name: b.GetPerson().GetName(), DestinationDivision: hulunbuir})
	if err != nil {
		t.Fatal(err)
	}
	requested := resp.GetCase().GetCaseId()
	backup := tn.backup(hohhot)

	// After the backup: both transfers complete.
	if err := tn.StartNode(hulunbuir); err != nil {
		t.Fatal(err)
	}
	tn.waitState(hulunbuir, requested, jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, requested, jiexuv1.CaseState_CASE_STATE_CLOSED)
	unknown := tn.enrolAndApplyWith(a, hohhot, hulunbuir, tn.proof(hohhot, a)).GetCaseId()
	tn.waitState(hulunbuir, unknown, jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, unknown, jiexuv1.CaseState_CASE_STATE_CLOSED)
	if got := tn.total(t); got != before {
		t.Fatalf("the network holds %d fen after the transfers, %d before", got, before)
	}

	report := tn.restore(hohhot, backup)
	for _, want := range []string{"recovered: case " + requested, "recovered: case " + unknown, "NOT ASKED: " + baotou, "jiexu reconcile --peer " + baotou} {
		if !strings.Contains(report, want) {
			t.Errorf("the report does not say %q:\n%s", want, report)
		}
	}
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		what, caseID string
		person       *jiexuv1.Record
	}{
		{"requested in the backup", requested, b},
		{"unknown to the backup", unknown, a},
	} {
		if c := tn.getCase(hohhot, tc.caseID); c.GetState() != jiexuv1.CaseState_CASE_STATE_CLOSED || c.GetAmountFen() != tc.person.GetBalanceFen() {
			t.Errorf("%s: case %s at the restored origin is %s with %d fen; want CLOSED with %d", tc.what, tc.caseID, c.GetState(), c.GetAmountFen(), tc.person.GetBalanceFen())
		}
		p := tn.period(hohhot, tc.person.GetPerson().GetIdNumber())
		if p.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT || p.GetBalanceFen() != 0 || p.GetCaseId() != tc.caseID {
			t.Errorf("%s: period at the restored origin = %s, %d fen, case %q; want TRANSFERRED_OUT, 0, %s", tc.what, p.GetStatus(), p.GetBalanceFen(), p.GetCaseId(), tc.caseID)
		}
	}
	if got := tn.total(t); got != before {
		t.Errorf("the network holds %d fen after the restore, %d before: a balance reappeared", got, before)
	}
	if rec := tn.reconcile(hohhot, hulunbuir); len(rec.GetDifferences()) != 0 {
		t.Errorf("after the restore: differences %v; want none", rec.GetDifferences())
	}
}

// remitAgain sends the destination a copy of the origin's remittance of a
// case, as a late redelivery would after the destination's inbox lost the
// original's message id in a restore: a new id, the same content, sealed
// by the origin.
func (tn *testNet) remitAgain(origin, dest string, c *jiexuv1.Case) error {
	tn.t.Helper()
	gw := tn.Node(origin).Gateway()
	req := &jiexuv1.RemitRequest{
		Header: &jiexuv1.MessageHeader{MessageId: gateway.NewMessageID(), SenderRegion: origin, ReceiverRegion: dest,
			CaseId: c.GetCaseId(), CreatedAt: timestamppb.Now()},
		IdNumber: c.GetPerson().GetIdNumber(), AmountFen: c.GetAmountFen(), CertificateNumber: c.GetCertificateNumber(),
	}
	if err := gateway.SealMessage(gw.Signer(), req); err != nil {
		tn.t.Fatal(err)
	}
	return gw.Invoke(context.Background(), dest, jiexuv1.RemittanceService_Remit_FullMethodName, req, &jiexuv1.RemitResponse{})
}

// A destination restored from a backup older than two transfers in it
// completed asks the origin, which answers with the certificates it sealed
// for them: the case the backup lacks and the one it holds as applied come
// back completed, each balance credited once and the months recognised, as
// before the restore; the network total does not change and the two sides
// reconcile. A late copy of the origin's remittance changes nothing.
func TestRestoreRollsTheDestinationForward(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	a, b := tn.firstEmployee(hohhot, 0), tn.firstEmployee(hohhot, 1)
	tn.suspend(hohhot, a)
	tn.suspend(hohhot, b)
	for _, p := range []*jiexuv1.Record{a, b} {
		tn.put(hulunbuir, devnet.DestinationRecord(p, layoutOf(t, tn.Layout, hulunbuir), time.Now()))
	}
	before := tn.total(t)
	proofA, proofB := tn.proof(hohhot, a), tn.proof(hohhot, b)

	// b applies at the destination while the origin is down: APPLIED, the
	// notice queued, in the backup.
	tn.StopNode(hohhot)
	applied := tn.apply(hulunbuir, hohhot, b.GetPerson(), proofB).GetCaseId()
	backup := tn.backup(hulunbuir)

	// After the backup: b's transfer completes, and a's, which the backup lacks.
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}
	missing := tn.apply(hulunbuir, hohhot, a.GetPerson(), proofA).GetCaseId()
	want := map[string]*jiexuv1.Period{}
	for _, tc := range []struct {
		id     string
		person *jiexuv1.Record
	}{{applied, b}, {missing, a}} {
		tn.waitState(hohhot, tc.id, jiexuv1.CaseState_CASE_STATE_CLOSED)
		if c := tn.waitState(hulunbuir, tc.id, jiexuv1.CaseState_CASE_STATE_COMPLETED); c.GetAmountFen() != tc.person.GetBalanceFen() {
			t.Fatalf("case %s credited %d fen; want %d", tc.id, c.GetAmountFen(), tc.person.GetBalanceFen())
		}
		want[tc.id] = tn.period(hulunbuir, tc.person.GetPerson().GetIdNumber())
	}
	if got := tn.total(t); got != before {
		t.Fatalf("the network holds %d fen after the transfers, %d before", got, before)
	}

	report := tn.restore(hulunbuir, backup)
	for _, want := range []string{"recovered: case " + applied, "recovered: case " + missing} {
		if !strings.Contains(report, want) {
			t.Errorf("the report does not say %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "DECIDE") {
		t.Errorf("the report leaves something to decide:\n%s", report)
	}
	if err := tn.StartNode(hulunbuir); err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			id     string
			person *jiexuv1.Record
		}{{applied, b}, {missing, a}} {
			c := tn.getCase(hulunbuir, tc.id)
			if c.GetState() != jiexuv1.CaseState_CASE_STATE_COMPLETED || !c.GetFunded() || c.GetAmountFen() != tc.person.GetBalanceFen() {
				t.Errorf("%s: case %s at the restored destination is %s, funded %t, %d fen; want COMPLETED, funded, %d",
					when, tc.id, c.GetState(), c.GetFunded(), c.GetAmountFen(), tc.person.GetBalanceFen())
			}
			p, w := tn.period(hulunbuir, tc.person.GetPerson().GetIdNumber()), want[tc.id]
			if p.GetBalanceFen() != w.GetBalanceFen() || p.GetCreditedFen() != w.GetCreditedFen() || p.GetMonthsRecognised() != w.GetMonthsRecognised() {
				t.Errorf("%s: case %s: the period at the destination has %d fen (%d credited), %d months recognised; before the restore %d (%d), %d",
					when, tc.id, p.GetBalanceFen(), p.GetCreditedFen(), p.GetMonthsRecognised(), w.GetBalanceFen(), w.GetCreditedFen(), w.GetMonthsRecognised())
			}
		}
		if got := tn.total(t); got != before {
			t.Errorf("%s: the network holds %d fen, %d before", when, got, before)
		}
	}
	check("after the restore")
	tn.waitUntil(20*time.Second, func() bool { return len(tn.outbox(hulunbuir, false)) == 0 && len(tn.outbox(hohhot, false)) == 0 },
		func() string { return "the outboxes do not drain" })
	if rec := tn.reconcile(hulunbuir, hohhot); len(rec.GetDifferences()) != 0 {
		t.Errorf("after the restore: differences %v; want none", rec.GetDifferences())
	}

	for _, id := range []string{applied, missing} {
		if err := tn.remitAgain(hohhot, hulunbuir, tn.getCase(hohhot, id)); err != nil {
			t.Errorf("a late copy of the remittance of %s: %v; want it acknowledged as a repeat", id, err)
		}
	}
	check("after a late copy of each remittance")

	// The same restore again: the same roll-forward, nothing credited twice.
	tn.restore(hulunbuir, backup)
	if err := tn.StartNode(hulunbuir); err != nil {
		t.Fatal(err)
	}
	check("after the same restore again")
	for _, id := range []string{applied, missing} {
		if err := tn.remitAgain(hohhot, hulunbuir, tn.getCase(hohhot, id)); err != nil {
			t.Errorf("a late copy of the remittance of %s after the second restore: %v", id, err)
		}
	}
	check("after a late copy of each remittance, restored twice")
}

// An origin whose answer carries a certificate that is not the one it
// sealed (here: its stored certificate altered to a larger balance, the
// seal kept) gets nothing credited: the case is left for an operator.
func TestRestoreRefusesATamperedCertificate(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	ctx := context.Background()
	a := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, a)
	tn.put(hulunbuir, devnet.DestinationRecord(a, layoutOf(t, tn.Layout, hulunbuir), time.Now()))
	proof := tn.proof(hohhot, a)
	backup := tn.backup(hulunbuir)
	id := tn.apply(hulunbuir, hohhot, a.GetPerson(), proof).GetCaseId()
	tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_CLOSED)
	tn.waitState(hulunbuir, id, jiexuv1.CaseState_CASE_STATE_COMPLETED)
	number := tn.getCase(hohhot, id).GetCertificateNumber()

	tn.StopNode(hohhot)
	tamperCertificate(t, filepath.Join(layoutOf(t, tn.Layout, hohhot).Dir, "data", node.DBFile), number, func(c *jiexuv1.Certificate) {
		c.BalanceFen += 100_00
		c.BalanceFigures = rules.AmountFigures(c.GetBalanceFen())
		c.BalanceWords, _ = rules.AmountWords(c.GetBalanceFen())
	})
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}
	beforeRestore := tn.period(hulunbuir, a.GetPerson().GetIdNumber())
	report := tn.restore(hulunbuir, backup)
	if !strings.Contains(report, "DECIDE:    case "+id+": the certificate in") || !strings.Contains(report, "does not verify") {
		t.Errorf("the report does not say the certificate of %s does not verify:\n%s", id, report)
	}
	if err := tn.StartNode(hulunbuir); err != nil {
		t.Fatal(err)
	}
	p := tn.period(hulunbuir, a.GetPerson().GetIdNumber())
	if p.GetCreditedFen() != 0 || p.GetBalanceFen() != beforeRestore.GetBalanceFen()-beforeRestore.GetCreditedFen() {
		t.Errorf("after the restore the period has %d fen, %d credited; want nothing credited (before the restore: %d, %d credited)",
			p.GetBalanceFen(), p.GetCreditedFen(), beforeRestore.GetBalanceFen(), beforeRestore.GetCreditedFen())
	}
	resp, err := tn.Clients[hulunbuir].GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: id})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetCase(%s) at the restored destination = %v, %v; want NotFound (nothing rolled forward)", id, resp.GetCase().GetState(), err)
	}
}

// tamperCertificate changes a stored sealed certificate's content in a
// stopped node's store, keeping its seal.
func tamperCertificate(t *testing.T, path, number string, change func(*jiexuv1.Certificate)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("node.certificates"))
		sc := &jiexuv1.SealedCertificate{}
		if err := proto.Unmarshal(b.Get([]byte(number)), sc); err != nil {
			return err
		}
		c := &jiexuv1.Certificate{}
		if err := proto.Unmarshal(sc.GetCertificate(), c); err != nil {
			return err
		}
		change(c)
		if sc.Certificate, err = proto.Marshal(c); err != nil {
			return err
		}
		data, err := proto.Marshal(sc)
		if err != nil {
			return err
		}
		return b.Put([]byte(number), data)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A destination restored from a backup older than the person's record
// there cannot credit the balance the origin remitted: it holds it on the
// case (FUNDED, the origin's certificate kept) and says so; when the
// operator enters the record again, the certificate is applied and the
// balance credited once.
func TestRestoreHoldsTheBalanceUntilTheRecordIsBack(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	a := tn.firstEmployee(hohhot, 0)
	tn.suspend(hohhot, a)
	proof := tn.proof(hohhot, a)
	backup := tn.backup(hulunbuir) // before the person's record there
	rec := devnet.DestinationRecord(a, layoutOf(t, tn.Layout, hulunbuir), time.Now())
	tn.put(hulunbuir, rec)
	id := tn.apply(hulunbuir, hohhot, a.GetPerson(), proof).GetCaseId()
	tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_CLOSED)
	tn.waitState(hulunbuir, id, jiexuv1.CaseState_CASE_STATE_COMPLETED)
	want := tn.period(hulunbuir, a.GetPerson().GetIdNumber())

	report := tn.restore(hulunbuir, backup)
	if !strings.Contains(report, "DECIDE:    case "+id+": "+rules.AmountFigures(a.GetBalanceFen())+" is held on the case") {
		t.Errorf("the report does not say the balance of %s is held:\n%s", id, report)
	}
	if err := tn.StartNode(hulunbuir); err != nil {
		t.Fatal(err)
	}
	if c := tn.getCase(hulunbuir, id); c.GetState() != jiexuv1.CaseState_CASE_STATE_FUNDED || c.GetAmountFen() != a.GetBalanceFen() {
		t.Fatalf("after the restore case %s is %s holding %d fen; want FUNDED holding %d", id, c.GetState(), c.GetAmountFen(), a.GetBalanceFen())
	}

	tn.put(hulunbuir, rec) // the operator enters the record again
	c := tn.getCase(hulunbuir, id)
	p := tn.period(hulunbuir, a.GetPerson().GetIdNumber())
	if c.GetState() != jiexuv1.CaseState_CASE_STATE_COMPLETED || p.GetBalanceFen() != want.GetBalanceFen() || p.GetMonthsRecognised() != want.GetMonthsRecognised() {
		t.Errorf("after the record is back: case %s, period %d fen, %d months; want COMPLETED, %d fen, %d months (as before the restore)",
			c.GetState(), p.GetBalanceFen(), p.GetMonthsRecognised(), want.GetBalanceFen(), want.GetMonthsRecognised())
	}
	if err := tn.remitAgain(hohhot, hulunbuir, tn.getCase(hohhot, id)); err != nil {
		t.Errorf("a late copy of the remittance: %v; want it acknowledged as a repeat", err)
	}
	if got := tn.period(hulunbuir, a.GetPerson().GetIdNumber()).GetBalanceFen(); got != want.GetBalanceFen() {
		t.Errorf("after a late copy of the remittance the period has %d fen; want %d", got, want.GetBalanceFen())
	}
}

// A destination restored from a backup older than a case the origin
// refused (the applicant presented someone else's certificate) ends the
// case again as the origin's refusal ended it, moving nothing.
func TestRestoreEndsACaseTheOriginRefused(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	a, b := tn.firstEmployee(hohhot, 0), tn.firstEmployee(hohhot, 1)
	tn.suspend(hohhot, b)
	tn.put(hulunbuir, devnet.DestinationRecord(a, layoutOf(t, tn.Layout, hulunbuir), time.Now()))
	before := tn.total(t)
	backup := tn.backup(hulunbuir)
	id := tn.apply(hulunbuir, hohhot, a.GetPerson(), tn.proof(hohhot, b)).GetCaseId() // b's certificate, not a's
	tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_REFUSED)
	tn.waitState(hulunbuir, id, jiexuv1.CaseState_CASE_STATE_REFUSED)

	tn.restore(hulunbuir, backup)
	if err := tn.StartNode(hulunbuir); err != nil {
		t.Fatal(err)
	}
	c := tn.getCase(hulunbuir, id)
	if c.GetState() != jiexuv1.CaseState_CASE_STATE_REFUSED || c.GetRejectReason() != jiexuv1.RejectReason_REJECT_REASON_IDENTITY_MISMATCH || c.GetPerson().GetIdNumber() != a.GetPerson().GetIdNumber() {
		t.Errorf("after the restore case %s is %s (%s) for %s; want REFUSED (IDENTITY_MISMATCH) for %s",
			id, c.GetState(), c.GetRejectReason(), rules.MaskID(c.GetPerson().GetIdNumber()), rules.MaskID(a.GetPerson().GetIdNumber()))
	}
	if got := tn.total(t); got != before {
		t.Errorf("the network holds %d fen after the restore, %d before", got, before)
	}
	if rec := tn.reconcile(hulunbuir, hohhot); len(rec.GetDifferences()) != 0 {
		t.Errorf("after the restore: differences %v; want none", rec.GetDifferences())
	}
}

// An origin restored from a backup older than a notice it acknowledged
// cannot act on it (the notice is gone with the store and is never sent
// again): it refuses the case, saying why, so that it ends on both sides
// and the person applies again, instead of waiting for good.
func TestRestoreRefusesANoticeItLost(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	a := tn.firstEmployee(hohhot, 0) // still enrolled at the origin: the case waits there
	tn.put(hulunbuir, devnet.DestinationRecord(a, layoutOf(t, tn.Layout, hulunbuir), time.Now()))
	before := tn.total(t)
	backup := tn.backup(hohhot)
	id := tn.apply(hulunbuir, hohhot, a.GetPerson(), devnet.Proof{}).GetCaseId()
	tn.waitState(hulunbuir, id, jiexuv1.CaseState_CASE_STATE_NOTIFIED)
	tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION)

	report := tn.restore(hohhot, backup)
	if !strings.Contains(report, "recovered: case "+id) || !strings.Contains(report, "must be made again") {
		t.Errorf("the report does not say %s was refused, to be applied for again:\n%s", id, report)
	}
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}
	tn.waitState(hulunbuir, id, jiexuv1.CaseState_CASE_STATE_REFUSED)
	if c := tn.getCase(hohhot, id); c.GetState() != jiexuv1.CaseState_CASE_STATE_REFUSED || c.GetPerson().GetIdNumber() != a.GetPerson().GetIdNumber() {
		t.Errorf("case %s at the restored origin is %s for %s; want REFUSED for %s", id, c.GetState(),
			rules.MaskID(c.GetPerson().GetIdNumber()), rules.MaskID(a.GetPerson().GetIdNumber()))
	}
	if got := tn.total(t); got != before {
		t.Errorf("the network holds %d fen after the restore, %d before", got, before)
	}
}

// An origin restored from a backup taken before it suspended a person,
// who then moved: the suspension comes back from the certificate issued at
// it (its last month, its day, its number), the period is transferred out
// with the remitted balance gone, and the serial is not handed out again.
func TestRestoreTakesALaterSuspensionFromTheCertificate(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	a, b := tn.firstEmployee(hohhot, 0), tn.firstEmployee(hohhot, 1)
	backup := tn.backup(hohhot) // a still active here

	issued := tn.suspend(hohhot, a).GetCertificate()
	number := latest(t, tn.enrolment(hohhot, a.GetPerson().GetIdNumber())).GetCertificateNumber()
	if issued == nil || number == "" {
		t.Fatalf("the suspension issued no certificate")
	}
	id := tn.enrolAndApplyWith(a, hohhot, hulunbuir, tn.proof(hohhot, a)).GetCaseId()
	tn.waitState(hulunbuir, id, jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_CLOSED)
	want := tn.period(hohhot, a.GetPerson().GetIdNumber())
	before := tn.total(t)

	report := tn.restore(hohhot, backup)
	if !strings.Contains(report, "came back from certificate "+number) || strings.Contains(report, "not suspended") {
		t.Errorf("the report does not say the suspension came back from %s (or asks to check it):\n%s", number, report)
	}
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}

	got := tn.period(hohhot, a.GetPerson().GetIdNumber())
	if got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT || got.GetBalanceFen() != 0 || got.GetCaseId() != id ||
		got.GetCertificateNumber() != number || !proto.Equal(got.GetEnrolledTo(), want.GetEnrolledTo()) ||
		!proto.Equal(got.GetSuspendedOn(), want.GetSuspendedOn()) || got.GetMonthsPaid() != want.GetMonthsPaid() {
		t.Errorf("period at the restored origin:\n got %v\nwant %v", got, want)
	}
	if got := tn.total(t); got != before {
		t.Errorf("the network holds %d fen after the restore, %d before", got, before)
	}
	if rec := tn.reconcile(hohhot, hulunbuir); len(rec.GetDifferences()) != 0 {
		t.Errorf("after the restore: differences %v; want none", rec.GetDifferences())
	}
	// The next certificate has a later serial than the one the backup lacked.
	next := latest(t, tn.suspend(hohhot, b).GetEnrolment()).GetCertificateNumber()
	n1, err1 := rules.ParseCertNumber(number)
	n2, err2 := rules.ParseCertNumber(next)
	if err1 != nil || err2 != nil || n2.Serial <= n1.Serial {
		t.Errorf("the certificate after the restore is %s, after %s: the serial is reused (%v, %v)", next, number, err1, err2)
	}
}

func latest(t *testing.T, e *jiexuv1.Enrolment) *jiexuv1.Period {
	t.Helper()
	ps := e.GetPeriods()
	if len(ps) == 0 {
		t.Fatalf("enrolment of %s has no period", rules.MaskID(e.GetPerson().GetIdNumber()))
	}
	return ps[len(ps)-1]
}

// An origin restored from a backup older than a transfer to an NCMS
// office closes it again: the office received no money (it keeps no
// personal accounts), and the balance is held at the origin for the person,
// as the transfer left it.
func TestRestoreClosesATransferToAnOfficeWithoutAccounts(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, manzhouli)
	a := tn.firstEmployee(hohhot, 0)
	backup := tn.backup(hohhot)
	id := tn.move(a, hohhot, hohhot, manzhouli).GetCaseId()
	tn.waitState(manzhouli, id, jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(hohhot, id, jiexuv1.CaseState_CASE_STATE_CLOSED)
	want := tn.period(hohhot, a.GetPerson().GetIdNumber())
	if want.GetHeldFen() != a.GetBalanceFen() {
		t.Fatalf("before the restore the origin holds %d fen for the person; want the balance %d", want.GetHeldFen(), a.GetBalanceFen())
	}
	before := tn.total(t)

	report := tn.restore(hohhot, backup)
	if !strings.Contains(report, "recovered: case "+id) {
		t.Errorf("the report does not say case %s was recovered:\n%s", id, report)
	}
	if err := tn.StartNode(hohhot); err != nil {
		t.Fatal(err)
	}
	if c := tn.getCase(hohhot, id); c.GetState() != jiexuv1.CaseState_CASE_STATE_CLOSED {
		t.Errorf("case %s at the restored origin is %s; want CLOSED", id, c.GetState())
	}
	got := tn.period(hohhot, a.GetPerson().GetIdNumber())
	if got.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT || got.GetHeldFen() != a.GetBalanceFen() || got.GetBalanceFen() != 0 {
		t.Errorf("period at the restored origin = %s, balance %d, held %d; want TRANSFERRED_OUT, 0, %d", got.GetStatus(), got.GetBalanceFen(), got.GetHeldFen(), a.GetBalanceFen())
	}
	if got := tn.total(t); got != before {
		t.Errorf("the network holds %d fen after the restore, %d before", got, before)
	}
}
