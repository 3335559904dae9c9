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

	"jiexu/node"
	"jiexu/node/devnet"
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

	tn.StopNode(hohhot)
	var out bytes.Buffer
	cfgFile := layoutOf(t, tn.Layout, hohhot).ConfigFile
	if err := node.Restore(ctx, node.RestoreOptions{ConfigFile: cfgFile, From: backup}, &out); err != nil {
		t.Fatalf("Restore: %v\n%s", err, out.String())
	}
	report := out.String()
	t.Log(report)
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
