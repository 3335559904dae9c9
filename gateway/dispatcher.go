package gateway

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
)

// dispatcher delivers the outbox of one peer region.
type dispatcher struct {
	g    *Gateway
	peer string
	kick chan struct{}
	// reachable is set when the last batch had a success: then messages
	// still backing off from the outage are sent at once, not one by one
	// as their own timers expire. Only the dispatcher's goroutine uses it.
	reachable bool
}

// wake makes sure a dispatcher runs for peer and tells it to look again.
func (g *Gateway) wake(peer string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx == nil || g.ctx.Err() != nil {
		return // not started; Start scans the outbox
	}
	d, ok := g.dispatchers[peer]
	if !ok {
		d = &dispatcher{g: g, peer: peer, kick: make(chan struct{}, 1)}
		g.dispatchers[peer] = d
		g.wg.Add(1)
		go func(ctx context.Context) { defer g.wg.Done(); d.run(ctx) }(g.ctx)
	}
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// WakeAll tells every dispatcher to try now, ignoring backoff (an operator's
// "retry now", and tests after a peer comes back).
func (g *Gateway) WakeAll() {
	g.mu.Lock()
	peers := make([]string, 0, len(g.dispatchers))
	for p := range g.dispatchers {
		peers = append(peers, p)
	}
	g.mu.Unlock()
	for _, p := range peers {
		g.wake(p)
	}
}

func (d *dispatcher) run(ctx context.Context) {
	for {
		next, err := d.deliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			d.g.log.Error("outbox dispatch failed", "peer", d.peer, "err", err)
			next = d.g.cfg.Now().Add(d.g.cfg.RetryMin)
		}
		if ctx.Err() != nil {
			return
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if !next.IsZero() { // zero: nothing pending, sleep until kicked
			wait := next.Sub(d.g.cfg.Now())
			if wait <= 0 {
				continue
			}
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-d.kick:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

type attempt struct {
	key     []byte
	entry   *jiexuv1.OutboxMessage
	receipt *jiexuv1.Receipt // the peer's, verified, when err is nil
	err     error
}

// deliverDue sends up to Window due messages concurrently and records the
// outcomes in one transaction. It returns when to look again: now when it
// sent something, the earliest retry time when everything is backing off,
// zero when the outbox is empty.
func (d *dispatcher) deliverDue(ctx context.Context) (time.Time, error) {
	now := d.g.cfg.Now()
	var batch []*attempt
	var earliest time.Time
	prefix := []byte(d.peer)
	err := d.g.cfg.DB.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			e := &jiexuv1.OutboxMessage{}
			if err := proto.Unmarshal(v, e); err != nil { // copies out of the mmap
				return fmt.Errorf("outbox entry %x: %w", k, err)
			}
			if at := e.GetNextAttemptAt().AsTime(); at.After(now) && !d.reachable {
				if earliest.IsZero() || at.Before(earliest) {
					earliest = at
				}
				continue
			}
			batch = append(batch, &attempt{key: bytes.Clone(k), entry: e})
			if len(batch) >= d.g.cfg.Window {
				break
			}
		}
		return nil
	})
	if err != nil || len(batch) == 0 {
		return earliest, err
	}

	var wg sync.WaitGroup
	for _, a := range batch {
		wg.Add(1)
		go func() { defer wg.Done(); a.receipt, a.err = d.send(ctx, a.entry) }()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return time.Time{}, nil // shutting down: the attempts are simply retried later
	}
	// Reachable, unless it also asked us to slow down: then every message
	// waits for its retry hint.
	d.reachable = slices.ContainsFunc(batch, func(a *attempt) bool { return a.err == nil }) &&
		!slices.ContainsFunc(batch, func(a *attempt) bool { _, busy := limits.RetryAfter(a.err); return busy })
	return now, d.record(batch)
}

// send makes one delivery attempt and returns the peer's receipt, its seal
// verified and bound to the message sent.
func (d *dispatcher) send(ctx context.Context, e *jiexuv1.OutboxMessage) (*jiexuv1.Receipt, error) {
	respType, err := methodResponse(e.GetMethod())
	if err != nil {
		return nil, err
	}
	c, err := d.g.conn(d.peer)
	if err != nil {
		return nil, err
	}
	// The dispatcher's backoff is the retry policy; gRPC's own reconnect
	// backoff (up to two minutes) must not delay a peer that came back.
	if c.GetState() == connectivity.TransientFailure {
		c.ResetConnectBackoff()
	}
	ctx, cancel := context.WithTimeout(ctx, d.g.cfg.CallTimeout)
	defer cancel()
	resp := respType.New().Interface()
	if err := c.Invoke(ctx, e.GetMethod(), rawFrame(e.GetPayload()), resp, grpc.ForceCodecV2(rawCodec{})); err != nil {
		return nil, err
	}
	fd := resp.ProtoReflect().Descriptor().Fields().ByName("receipt")
	if fd == nil {
		return nil, fmt.Errorf("%s: response has no receipt", e.GetMethod())
	}
	receipt, ok := resp.ProtoReflect().Get(fd).Message().Interface().(*jiexuv1.Receipt)
	if !ok {
		return nil, fmt.Errorf("%w: %s: no receipt", ErrBadReceipt, e.GetMethod())
	}
	m, err := decodeMessage(e.GetMethod(), e.GetPayload())
	if err != nil {
		return nil, err
	}
	digest, err := messageDigest(m)
	if err != nil {
		return nil, err
	}
	v, err := d.g.dir.view()
	if err != nil {
		return nil, err
	}
	peer := func(region string) bool { return d.g.dir.SameRegion(region, d.peer) }
	cert, err := checkReceipt(receipt, peer, e.GetMessageId(), digest, v.roots, v.verified.Revoked)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.GetMethod(), err)
	}
	region, _ := certs.RegionOf(cert) // checked by checkReceipt
	if err := v.listed(region, cert); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", e.GetMethod(), ErrBadReceipt, err)
	}
	return receipt, nil
}

// record commits a batch's outcomes: acknowledged messages leave the outbox
// (and the business side hears of them in the same transaction); failed ones
// are rescheduled or become dead letters.
func (d *dispatcher) record(batch []*attempt) error {
	now := d.g.cfg.Now()
	var delivered, failed, dead int
	err := d.g.cfg.DB.Update(func(tx *bolt.Tx) error {
		delivered, failed, dead = 0, 0, 0
		out := tx.Bucket(bucketOutbox)
		for _, a := range batch {
			if out.Get(a.key) == nil {
				continue // redriven or removed meanwhile
			}
			if a.err == nil {
				if err := out.Delete(a.key); err != nil {
					return err
				}
				if err := d.g.Audit().Append(tx, &jiexuv1.AuditEntry{Kind: jiexuv1.AuditKind_AUDIT_KIND_RECEIPT, CaseId: a.entry.GetCaseId(),
					PeerRegion: receiptRegion(a.receipt, d.peer), Method: a.entry.GetMethod(), MessageId: a.entry.GetMessageId(), Receipt: a.receipt}); err != nil {
					return err
				}
				if d.g.onAck != nil {
					if err := d.g.onAck(tx, a.entry); err != nil {
						return fmt.Errorf("on ack of %s: %w", a.entry.GetMessageId(), err)
					}
				}
				delivered++
				continue
			}
			e := proto.Clone(a.entry).(*jiexuv1.OutboxMessage)
			e.Attempts++
			e.LastError = a.err.Error()
			if now.Sub(e.GetCreatedAt().AsTime()) >= d.g.cfg.DeadAfter {
				e.Dead = true
				data, err := proto.Marshal(e)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketDead).Put(seqKey(e.GetSequence()), data); err != nil {
					return err
				}
				if err := out.Delete(a.key); err != nil {
					return err
				}
				dead++
				continue
			}
			delay := d.g.backoff(e.Attempts)
			if hint, ok := limits.RetryAfter(a.err); ok {
				// The peer is busy, not down: come back when it said.
				delay = max(hint, d.g.cfg.RetryMin)
			}
			e.NextAttemptAt = timestamppb.New(now.Add(delay))
			data, err := proto.Marshal(e)
			if err != nil {
				return err
			}
			if err := out.Put(a.key, data); err != nil {
				return err
			}
			failed++
		}
		return nil
	})
	if err != nil {
		return err
	}
	m := d.g.metrics
	for _, a := range batch {
		switch {
		case a.err == nil:
			m.deliveries.WithLabelValues(d.peer, "ok").Inc()
			m.latency.WithLabelValues(d.peer).Observe(now.Sub(a.entry.GetCreatedAt().AsTime()).Seconds())
		default:
			m.deliveries.WithLabelValues(d.peer, "error").Inc()
			d.g.log.Warn("delivery failed", "peer", d.peer, "method", a.entry.GetMethod(),
				"message_id", a.entry.GetMessageId(), "case_id", a.entry.GetCaseId(),
				"attempt", a.entry.GetAttempts()+1, "err", a.err)
		}
	}
	if failed > 0 {
		m.retries.WithLabelValues(d.peer).Add(float64(failed))
	}
	if dead > 0 {
		m.deadLetters.WithLabelValues(d.peer).Add(float64(dead))
		d.g.log.Error("messages became dead letters", "peer", d.peer, "count", dead)
	}
	return nil
}
