package devnet_test

import (
	"context"
	"testing"
	"time"

	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// BenchmarkTransfer measures whole transfers on a two-node in-process
// network: apply at the destination, then notification, suspension,
// certificate, remittance and confirmation, each a sealed, durably queued
// message over mutual TLS with an fsync on both sides. b.N transfers are
// applied as fast as the agency API takes them and the clock stops when the
// last destination case completes.
func BenchmarkTransfer(b *testing.B) {
	// The two nodes trust each other's pace: no per-peer rate here, so the
	// benchmark measures the transfer, not the limit (node.DefaultLimits
	// allows 200 messages a second per peer).
	unlimited := node.DefaultLimits()
	unlimited.PeerRate, unlimited.PeerBurst, unlimited.PeerConcurrency = 1e9, 1e9, 1e6
	l, err := devnet.Init(devnet.Options{Dir: b.TempDir(), Regions: []string{hohhot, hulunbuir}, People: max(b.N, 1),
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, Limits: &unlimited})
	if err != nil {
		b.Fatal(err)
	}
	nw, err := devnet.Start(context.Background(), l)
	if err != nil {
		b.Fatal(err)
	}
	defer nw.Stop()
	ctx := context.Background()
	// Everyone left 呼和浩特 last month: the import suspends them and issues
	// their certificates, as the bureau's system reports the suspensions.
	people := l.Nodes[0].People
	for _, p := range people {
		p.Status, p.EnrolledTo, p.SuspendedOn = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED, lastMonth(), rules.DateOf(time.Now())
		if rules.MonthIndex(p.GetEnrolledTo()) < rules.MonthIndex(p.GetEnrolledFrom()) {
			p.EnrolledTo = p.GetEnrolledFrom()
		}
		p.MonthsPaid = min(p.GetMonthsPaid(), int32(rules.ContinuousMonths(p.GetEnrolledFrom(), p.GetEnrolledTo())))
	}
	if _, err := nw.Clients[hohhot].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: people}); err != nil {
		b.Fatal(err)
	}
	proofs := make([]devnet.Proof, len(people))
	for i, p := range people {
		rec := devnet.DestinationRecord(p, l.Nodes[1], time.Now())
		if _, err := nw.Clients[hulunbuir].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec}); err != nil {
			b.Fatal(err)
		}
		if proofs[i], err = devnet.ProofOf(ctx, nw.Clients[hohhot], p); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i, p := range people[:b.N] {
		if _, err := nw.Clients[hulunbuir].ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: p.GetPerson().GetIdNumber(), Name: p.GetPerson().GetName(),
			OriginDivision: hohhot, CertificateNumber: proofs[i].Certificate, VerificationCode: proofs[i].Code}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := nw.Clients[hulunbuir].GetStatus(ctx, &jiexuv1.GetStatusRequest{})
		if err != nil {
			b.Fatal(err)
		}
		completed := 0
		for _, c := range st.GetCases() {
			if c.GetState() == jiexuv1.CaseState_CASE_STATE_COMPLETED {
				completed = int(c.GetCount())
			}
		}
		if completed == b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d completed after 5 minutes", completed, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
}
