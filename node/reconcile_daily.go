package node

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"jiexu/node/rules"
)

// Results of a reconciliation run, the values of jiexu_reconcile_runs_total's
// result label.
const (
	resultClean       = "clean"
	resultDifferences = "differences"
	resultFailed      = "failed"
)

// dailyWindow is how many days back the daily run reconciles: longer than
// any transfer should take (10 + 15 working days, and the credit).
const dailyWindow = 90

// defaultRecheck is how long a reconciliation waits before it looks again
// at what differed (WithReconcileRecheck).
const defaultRecheck = 2 * time.Second

// WithReconcileRecheck sets how long a reconciliation waits before it
// looks again at the differences it found (tests).
func WithReconcileRecheck(d time.Duration) Option { return func(n *Node) { n.reconcileRecheck = d } }

// reconcileMetrics count reconciliations. Labels are peers and results.
type reconcileMetrics struct {
	differences *prometheus.GaugeVec
	runs        *prometheus.CounterVec
}

func newReconcileMetrics() *reconcileMetrics {
	m := &reconcileMetrics{
		differences: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jiexu_reconcile_differences", Help: "Differences the last reconciliation (对账) with a peer found, by peer region.",
		}, []string{"peer"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_reconcile_runs_total", Help: "Reconciliations with one peer, by result (clean, differences, failed).",
		}, []string{"result"}),
	}
	for _, r := range []string{resultClean, resultDifferences, resultFailed} {
		m.runs.WithLabelValues(r)
	}
	return m
}

// collectors are the metrics to register.
func (m *reconcileMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.differences, m.runs}
}

// reconcileDaily reconciles with every peer, every day at reconcile_at,
// until ctx ends.
func (n *Node) reconcileDaily(ctx context.Context, at time.Duration) {
	for {
		next := nextDaily(n.now(), at)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		n.reconcileAll(ctx)
	}
}

// nextDaily is the next instant after now at time of day at, China
// Standard Time.
func nextDaily(now time.Time, at time.Duration) time.Time {
	now = now.In(rules.CST)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, rules.CST)
	next := day.Add(at)
	if !next.After(now) {
		next = day.AddDate(0, 0, 1).Add(at)
	}
	return next
}

// reconcileAll reconciles the last dailyWindow days with each peer this
// node shares cases of those days with; a peer that fails does not stop
// the others.
func (n *Node) reconcileAll(ctx context.Context) {
	now := n.now()
	from, to := dayBefore(now, dailyWindow-1), rules.DateOf(now)
	peers, err := n.peersSince(rules.DateTime(from))
	if err != nil {
		n.log.Error("daily reconciliation: cannot list peers", "err", err)
		return
	}
	for _, peer := range peers {
		if ctx.Err() != nil {
			return
		}
		_, _ = n.reconcile(ctx, peer, from, to) // counted and logged
	}
}

// peersSince lists the regions this node shares cases opened since t
// with, sorted.
func (n *Node) peersSince(t time.Time) ([]string, error) {
	seen := map[string]bool{}
	err := n.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketCasesByTime).Cursor()
		for k, _ := cur.Seek(timePrefix(t)); k != nil; k, _ = cur.Next() {
			c, err := getCase(tx, string(k[8:]))
			if err != nil {
				return err
			}
			if c != nil {
				seen[n.divisionsCanonical(counterparty(c))] = true
			}
		}
		return nil
	})
	peers := make([]string, 0, len(seen))
	for p := range seen {
		if p != "" && !n.same(p, n.cfg.Region) {
			peers = append(peers, p)
		}
	}
	slices.Sort(peers)
	return peers, err
}

// divisionsCanonical is the region code a peer is registered under now.
func (n *Node) divisionsCanonical(region string) string { return n.gw.Directory().Canonical(region) }
