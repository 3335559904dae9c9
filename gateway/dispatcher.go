package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
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
	// timeouts counts attempts that timed out since the last success (the
	// dispatcher's goroutine only).
	timeouts int
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
	conn    *grpc.ClientConn // the connection it was sent on
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
		go func() { defer wg.Done(); a.conn, a.receipt, a.err = d.send(ctx, a.entry) }()
	}
	d.await(&wg, batch)
	if ctx.Err() != nil {
		return time.Time{}, nil // shutting down: the attempts are simply retried later
	}
	// Reachable, unless it also asked us to slow down: then every message
	// waits for its retry hint.
	d.reachable = slices.ContainsFunc(batch, func(a *attempt) bool { return a.err == nil }) &&
		!slices.ContainsFunc(batch, func(a *attempt) bool { _, busy := limits.RetryAfter(a.err); return busy })
	d.watchProgress(batch)
	return now, d.record(batch)
}

// await waits for a batch's calls. Each call's context ends after
// CallTimeout, so they return by then; if some are still outstanding well
// past it, the connection under them is wedged: closing it ends them.
func (d *dispatcher) await(wg *sync.WaitGroup, batch []*attempt) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(2*d.g.cfg.CallTimeout + time.Second):
	}
	d.g.replaceConn(d.peer, nil, fmt.Sprintf("calls outstanding %s past their deadline", d.g.cfg.CallTimeout+time.Second))
	<-done
}

// watchProgress counts attempts that ended in DeadlineExceeded with no
// success since, and replaces the connection when there are StallAfter of
// them in a row: a connection whose packets vanish without a reset looks
// healthy to gRPC (until keepalive notices), and every call on it times out.
func (d *dispatcher) watchProgress(batch []*attempt) {
	if d.g.cfg.StallAfter == 0 {
		return
	}
	var stalled *grpc.ClientConn
	for _, a := range batch {
		switch {
		case a.err == nil:
			d.timeouts = 0
		case status.Code(a.err) == codes.DeadlineExceeded:
			d.timeouts++
			stalled = a.conn
		}
	}
	if d.timeouts >= d.g.cfg.StallAfter && stalled != nil {
		d.g.replaceConn(d.peer, stalled, fmt.Sprintf("%d calls in a row timed out after %s with no success", d.timeouts, d.g.cfg.CallTimeout))
		d.timeouts = 0
	}
}

// send makes one delivery attempt and returns the connection it used and
// the peer's receipt, its seal verified and bound to the message sent.
func (d *dispatcher) send(ctx context.Context, e *jiexuv1.OutboxMessage) (*grpc.ClientConn, *jiexuv1.Receipt, error) {
	respType, err := methodResponse(e.GetMethod())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUnsendable, err)
	}
	c, err := d.g.conn(d.peer)
	if err != nil {
		return nil, nil, err
	}
	receipt, err := d.invoke(ctx, c, respType, e)
	return c, receipt, boundPeerError(err)
}

// invoke makes the call on c and checks the receipt.
func (d *dispatcher) invoke(ctx context.Context, c *grpc.ClientConn, respType protoreflect.MessageType, e *jiexuv1.OutboxMessage) (*jiexuv1.Receipt, error) {
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
	cert, err := checkReceipt(receipt, peer, e.GetMessageId(), digest, v.verifyChain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.GetMethod(), err)
	}
	region, _ := certs.RegionOf(cert) // checked by checkReceipt
	if err := v.listed(region, cert); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", e.GetMethod(), ErrBadReceipt, err)
	}
	return receipt, nil
}

// ackError is an acknowledgement the business side could not apply.
type ackError struct {
	key []byte
	err error
}

func (e *ackError) Error() string { return e.err.Error() }

// applyAck runs the business side's acknowledgement hook, turning a panic
// into an error.
func (d *dispatcher) applyAck(tx *bolt.Tx, e *jiexuv1.OutboxMessage) (err error) {
	if d.g.onAck == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return d.g.onAck(tx, e)
}

// outcome is how one attempt was recorded.
type outcome int

const (
	delivered outcome = iota
	rescheduled
	deadLettered
	ackFailed
)

// record commits a batch's outcomes: acknowledged messages leave the outbox
// (their receipts go to the audit trail, and the business side hears of
// them, in the same transaction); failed ones are rescheduled or become
// dead letters, as the delivery policy says. An acknowledgement the
// business side cannot apply is isolated: that message becomes a dead
// letter marked delivered, the transaction is run again without it, and the
// rest of the batch (and of the peer's outbox) goes on.
func (d *dispatcher) record(batch []*attempt) error {
	now := d.g.cfg.Now()
	failedAck := map[string]error{}
	var results map[*attempt]outcome
	var reasons map[*attempt]string
	for {
		var ae *ackError
		err := d.g.commit.Update(func(tx *bolt.Tx) error {
			results, reasons = map[*attempt]outcome{}, map[*attempt]string{}
			out := tx.Bucket(bucketOutbox)
			for _, a := range batch {
				if out.Get(a.key) == nil {
					continue // redriven or removed meanwhile
				}
				if a.err == nil {
					if err := d.g.Audit().Append(tx, &jiexuv1.AuditEntry{Kind: jiexuv1.AuditKind_AUDIT_KIND_RECEIPT, CaseId: a.entry.GetCaseId(),
						PeerRegion: receiptRegion(a.receipt, d.peer), Method: a.entry.GetMethod(), MessageId: a.entry.GetMessageId(), Receipt: a.receipt}); err != nil {
						return err
					}
					if aerr, ok := failedAck[string(a.key)]; ok {
						e := proto.Clone(a.entry).(*jiexuv1.OutboxMessage)
						e.Attempts++
						e.Delivered, e.LastCode, e.LastError = true, "", ""
						e.DeadReason = fmt.Sprintf("%v: %v", ErrAckFailed, aerr)
						if err := d.bury(tx, a.key, e); err != nil {
							return err
						}
						results[a], reasons[a] = ackFailed, e.GetDeadReason()
						continue
					}
					if err := out.Delete(a.key); err != nil {
						return err
					}
					if err := d.applyAck(tx, a.entry); err != nil {
						return &ackError{key: a.key, err: fmt.Errorf("on ack of %s: %w", a.entry.GetMessageId(), err)}
					}
					results[a] = delivered
					continue
				}
				e := proto.Clone(a.entry).(*jiexuv1.OutboxMessage)
				e.Attempts++
				e.LastError = a.err.Error()
				dec := decide(a.err)
				e.LastCode = dec.code
				horizon, dead := d.g.cfg.DeadAfter, false
				switch dec.verdict {
				case deadNow:
					dead = true
				case retryGrace:
					if e.GetRefusedSince() == nil {
						e.RefusedSince = timestamppb.New(now)
					}
					horizon = min(horizon, d.g.cfg.RefusalGrace)
					dead = now.Sub(e.GetRefusedSince().AsTime()) >= d.g.cfg.RefusalGrace
				default:
					e.RefusedSince = nil
				}
				verdict := dec.verdict
				if !dead && now.Sub(e.GetCreatedAt().AsTime()) >= d.g.cfg.DeadAfter {
					dead, verdict, horizon = true, retry, d.g.cfg.DeadAfter
				}
				if dead {
					e.DeadReason = deadReason(verdict, horizon, a.err)
					if err := d.bury(tx, a.key, e); err != nil {
						return err
					}
					results[a], reasons[a] = deadLettered, deadLabel(verdict)
					continue
				}
				delay := d.g.backoff(e.Attempts)
				if hint, ok := limits.RetryAfter(a.err); ok {
					// The peer is busy, not down: come back when it said.
					delay = max(min(hint, maxRetryInfo), d.g.cfg.RetryMin)
				}
				e.NextAttemptAt = timestamppb.New(now.Add(delay))
				data, err := proto.Marshal(e)
				if err != nil {
					return err
				}
				if err := out.Put(a.key, data); err != nil {
					return err
				}
				results[a] = rescheduled
			}
			return nil
		})
		if errors.As(err, &ae) {
			if _, again := failedAck[string(ae.key)]; again {
				return err // cannot happen: a failed ack is not applied again
			}
			failedAck[string(ae.key)] = ae.err
			d.g.log.Error("acknowledgement could not be applied; the message becomes a dead letter marked delivered",
				"peer", d.peer, "err", ae.err)
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	d.report(batch, now, results, reasons)
	return nil
}

// bury moves an outbox entry to the dead letters.
func (d *dispatcher) bury(tx *bolt.Tx, key []byte, e *jiexuv1.OutboxMessage) error {
	e.Dead = true
	data, err := proto.Marshal(e)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketDead).Put(seqKey(e.GetSequence()), data); err != nil {
		return err
	}
	return tx.Bucket(bucketOutbox).Delete(key)
}

// report counts and logs a recorded batch.
func (d *dispatcher) report(batch []*attempt, now time.Time, results map[*attempt]outcome, reasons map[*attempt]string) {
	m := d.g.metrics
	var failed int
	for _, a := range batch {
		r, ok := results[a]
		if !ok {
			continue
		}
		log := d.g.log.With("peer", d.peer, "method", a.entry.GetMethod(), "message_id", a.entry.GetMessageId(),
			"case_id", a.entry.GetCaseId(), "attempt", a.entry.GetAttempts()+1)
		switch r {
		case delivered:
			m.deliveries.WithLabelValues(d.peer, "ok").Inc()
			m.latency.WithLabelValues(d.peer).Observe(now.Sub(a.entry.GetCreatedAt().AsTime()).Seconds())
		case ackFailed:
			m.deliveries.WithLabelValues(d.peer, "ok").Inc()
			m.deadLetters.WithLabelValues(d.peer, "ack_failed").Inc()
			log.Error("message became a dead letter", "reason", reasons[a])
		case deadLettered:
			m.deliveries.WithLabelValues(d.peer, "error").Inc()
			m.deadLetters.WithLabelValues(d.peer, reasons[a]).Inc()
			log.Error("message became a dead letter", "reason", reasons[a], "err", a.err)
		default:
			m.deliveries.WithLabelValues(d.peer, "error").Inc()
			log.Warn("delivery failed", "err", a.err)
			failed++
		}
	}
	if failed > 0 {
		m.retries.WithLabelValues(d.peer).Add(float64(failed))
	}
}
