package gateway

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// sentMessages decodes the messages out in the audit chain, in its order.
func sentMessages(t *testing.T, g *Gateway) []*jiexuv1.NotifyTransferRequest {
	t.Helper()
	var out []*jiexuv1.NotifyTransferRequest
	err := g.cfg.DB.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAudit).ForEach(func(_, v []byte) error {
			e := &jiexuv1.AuditEntry{}
			if err := proto.Unmarshal(v, e); err != nil {
				return err
			}
			if e.GetKind() != jiexuv1.AuditKind_AUDIT_KIND_MESSAGE_OUT {
				return nil
			}
			m := &jiexuv1.NotifyTransferRequest{}
			if err := proto.Unmarshal(e.GetMessage(), m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// With batch seals, the messages one group transaction enqueues share one
// signature, each with its proof; each checks alone as the receiver checks
// it, is delivered and acknowledged, and the audit chain verifies offline.
// A message enqueued in a transaction of the caller's own is sealed alone.
func TestBatchSealsOneSignatureAGroup(t *testing.T) {
	f := newFixture(t)
	p := f.startPeer(t)
	g := f.running(t, func(c *Config) { c.BatchSeals = true })
	f.route(t, g, p.addr)

	const n = 5
	err := g.Update(func(tx *bolt.Tx) error {
		for i := range n {
			if err := g.Enqueue(tx, "150700", jiexuv1.TransferService_NotifyTransfer_FullMethodName, fmt.Sprintf("case-%d", i),
				&jiexuv1.NotifyTransferRequest{Person: &jiexuv1.Person{Name: "王伟", IdNumber: "11010519491231002X"}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, g, "alone") // db.Update: not a group transaction

	seen := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.seen) }
	waitUntil(t, 10*time.Second, func() bool { return len(list(t, g, false)) == 0 && seen() == n+1 },
		func() string { return fmt.Sprintf("pending %s; peer saw %d", describe(list(t, g, false)), seen()) })
	if dead := list(t, g, true); len(dead) != 0 {
		t.Fatalf("dead letters: %s", describe(dead))
	}

	msgs := sentMessages(t, g)
	if len(msgs) != n+1 {
		t.Fatalf("%d messages out in the audit chain, want %d", len(msgs), n+1)
	}
	v, err := g.dir.view()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if _, err := v.verifyMessage(m, time.Now()); err != nil {
			t.Errorf("message %d (%s): the receiver's check: %v", i, m.GetHeader().GetCaseId(), err)
		}
		proof := m.GetSeal().GetBatchProof()
		switch {
		case m.GetHeader().GetCaseId() == "alone":
			if proof != nil {
				t.Errorf("the message of a caller's own transaction carries a batch proof")
			}
		case proof == nil:
			t.Errorf("message %d of the group is sealed alone", i)
		case !bytes.Equal(m.GetSeal().GetSignature(), msgs[0].GetSeal().GetSignature()) || int(proof.GetIndex()) != i:
			t.Errorf("message %d: index %d, signature shared %v; want index %d under the group's one signature",
				i, proof.GetIndex(), bytes.Equal(m.GetSeal().GetSignature(), msgs[0].GetSeal().GetSignature()), i)
		}
	}
	// A message of the batch with a changed body is refused by the receiver's
	// check, though its batch's root was checked just now.
	bad := proto.Clone(msgs[1]).(*jiexuv1.NotifyTransferRequest)
	bad.Person.Name = "王五"
	if _, err := v.verifyMessage(bad, time.Now()); err == nil {
		t.Errorf("a changed message of a checked batch passed the receiver's check")
	}
	if r := verify(t, g); r.GetProblem() != "" {
		t.Errorf("audit chain: %s", r.GetProblem())
	}
}

// A group that runs again (another function of it failed) seals and stores
// its messages once, under one signature, and the failed function's
// messages not at all.
func TestBatchSealsGroupRunsAgain(t *testing.T) {
	f := newFixture(t)
	g := f.gateway(t, func(c *Config) { c.BatchSeals = true })
	release := make(chan struct{})
	done := make(chan error, 3)
	go func() { done <- g.Update(func(tx *bolt.Tx) error { <-release; return nil }) }()
	for {
		g.commit.mu.Lock()
		leading := g.commit.leading
		g.commit.mu.Unlock()
		if leading {
			break
		}
		time.Sleep(time.Millisecond)
	}
	send := func(caseID string, fail bool) {
		done <- g.Update(func(tx *bolt.Tx) error {
			if err := g.Enqueue(tx, "150700", jiexuv1.TransferService_NotifyTransfer_FullMethodName, caseID,
				&jiexuv1.NotifyTransferRequest{Person: &jiexuv1.Person{Name: "王伟", IdNumber: "11010519491231002X"}}); err != nil {
				return err
			}
			if fail {
				return fmt.Errorf("refused")
			}
			return nil
		})
	}
	go send("good", false)
	queued(t, g.commit, 1)
	go send("failed", true)
	queued(t, g.commit, 2)
	close(release)
	var errs int
	for range 3 {
		if err := <-done; err != nil {
			errs++
		}
	}
	if errs != 1 {
		t.Fatalf("%d calls failed, want 1", errs)
	}
	msgs := sentMessages(t, g)
	if len(msgs) != 1 || msgs[0].GetHeader().GetCaseId() != "good" {
		t.Fatalf("messages out: %d, want only case good's", len(msgs))
	}
	if r := verify(t, g); r.GetProblem() != "" {
		t.Errorf("audit chain: %s", r.GetProblem())
	}
	ms, _, err := g.List(ListQuery{Limit: 10, WithPayload: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("outbox: %s; want one message", describe(ms))
	}
	roots, _ := certs.LoadPool(f.node.CAFile())
	if _, err := checkSealedMessage(ms[0].GetMethod(), ms[0].GetPayload(), roots); err != nil {
		t.Errorf("the stored message: %v", err)
	}
}
