package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's Prometheus collectors. Labels are bounded: peer
// regions, results and reasons, never message or case ids.
type Metrics struct {
	g           *Gateway
	deliveries  *prometheus.CounterVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	duplicates  *prometheus.CounterVec
	refused     *prometheus.CounterVec
	replaced    *prometheus.CounterVec
	latency     *prometheus.HistogramVec

	pendingDesc, oldestDesc, deadDesc         *prometheus.Desc
	snapVersionDesc, snapAgeDesc, snapExpDesc *prometheus.Desc
	tableDesc                                 *prometheus.Desc
	epochDesc                                 *prometheus.Desc
}

func newMetrics(g *Gateway) *Metrics {
	return &Metrics{
		g: g,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_outbox_deliveries_total", Help: "Delivery attempts by peer region and result (ok, error).",
		}, []string{"peer", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_outbox_retries_total", Help: "Failed attempts rescheduled with backoff, by peer region.",
		}, []string{"peer"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_outbox_dead_lettered_total",
			Help: "Messages that became dead letters, by peer region and reason (refused, refused_after_grace, horizon, ack_failed).",
		}, []string{"peer", "reason"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_inbox_duplicates_total", Help: "Messages received again and acknowledged without applying, by sender region.",
		}, []string{"sender"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_peers_refused_total", Help: "Inter-node calls refused by the authorization check, by reason.",
		}, []string{"reason"}),
		replaced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_peer_connections_replaced_total",
			Help: "Connections to a peer closed and dialled afresh because they made no progress, by peer region.",
		}, []string{"peer"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jiexu_outbox_delivery_seconds", Help: "Time from enqueue to acknowledgement, by peer region.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60, 300, 1800, 3600, 86400},
		}, []string{"peer"}),
		pendingDesc:     prometheus.NewDesc("jiexu_outbox_pending", "Messages waiting for delivery, by peer region.", []string{"peer"}, nil),
		oldestDesc:      prometheus.NewDesc("jiexu_outbox_oldest_age_seconds", "Age of the oldest pending message, by peer region.", []string{"peer"}, nil),
		deadDesc:        prometheus.NewDesc("jiexu_outbox_dead_letters", "Dead letters held, by peer region.", []string{"peer"}, nil),
		snapVersionDesc: prometheus.NewDesc("jiexu_registry_snapshot_version", "Version of the registry snapshot in use.", nil, nil),
		snapAgeDesc:     prometheus.NewDesc("jiexu_registry_snapshot_age_seconds", "Seconds since the snapshot in use was issued.", nil, nil),
		snapExpDesc:     prometheus.NewDesc("jiexu_registry_snapshot_expiry_seconds", "Seconds until the snapshot in use expires (negative when expired).", nil, nil),
		tableDesc: prometheus.NewDesc("jiexu_divisions_table_info",
			"The GB/T 2260 table the node routes by: its version, the first 12 hex digits of its SHA-256, and its source (registry: carried by the snapshot; local: the node's own).",
			[]string{"version", "sha256", "source"}, nil),
		epochDesc: prometheus.NewDesc("jiexu_registry_epoch", "Registry epoch in force: 0 until the CA announces a registry certificate.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.vecs() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.pendingDesc, m.oldestDesc, m.deadDesc, m.snapVersionDesc, m.snapAgeDesc, m.snapExpDesc, m.tableDesc, m.epochDesc} {
		ch <- d
	}
}

func (m *Metrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.retries, m.deadLetters, m.duplicates, m.refused, m.replaced, m.latency}
}

// initialize makes every counter exist at 0 for its known labels: the
// refusal reasons, and every peer in the current snapshot. An alert on
// increase() or rate() then sees the first event, which it cannot when the
// series appears with it.
func (m *Metrics) initialize() {
	for _, r := range refusalReasons {
		m.refused.WithLabelValues(r)
	}
	for _, n := range m.g.dir.Snapshot().GetNodes() {
		peer := n.GetRegion()
		if peer == m.g.cfg.Region {
			continue
		}
		for _, result := range []string{"ok", "error"} {
			m.deliveries.WithLabelValues(peer, result)
		}
		m.retries.WithLabelValues(peer)
		for _, reason := range deadReasons {
			m.deadLetters.WithLabelValues(peer, reason)
		}
		m.duplicates.WithLabelValues(peer)
	}
}

// Collect implements prometheus.Collector; queue gauges are read from the
// store at scrape time, so they are exact.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.initialize() // peers come and go with the snapshot
	for _, c := range m.vecs() {
		c.Collect(ch)
	}
	now := m.g.cfg.Now()
	for _, p := range m.g.PeerStats() {
		age := 0.0
		if p.GetOldestPendingAt() != nil {
			age = now.Sub(p.GetOldestPendingAt().AsTime()).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(m.pendingDesc, prometheus.GaugeValue, float64(p.GetPending()), p.GetRegion())
		ch <- prometheus.MustNewConstMetric(m.oldestDesc, prometheus.GaugeValue, age, p.GetRegion())
		ch <- prometheus.MustNewConstMetric(m.deadDesc, prometheus.GaugeValue, float64(p.GetDead()), p.GetRegion())
	}
	t, source := m.g.dir.Table(), "local"
	if m.g.dir.Snapshot().GetDivisions() != nil {
		source = "registry"
	}
	d := t.Digest()
	ch <- prometheus.MustNewConstMetric(m.tableDesc, prometheus.GaugeValue, 1, t.Version(), fmt.Sprintf("%x", d[:6]), source)
	if snap := m.g.dir.Snapshot(); snap != nil {
		ch <- prometheus.MustNewConstMetric(m.snapVersionDesc, prometheus.GaugeValue, float64(snap.GetVersion()))
		ch <- prometheus.MustNewConstMetric(m.snapAgeDesc, prometheus.GaugeValue, now.Sub(snap.GetIssuedAt().AsTime()).Seconds())
		ch <- prometheus.MustNewConstMetric(m.snapExpDesc, prometheus.GaugeValue, snap.GetExpiresAt().AsTime().Sub(now).Seconds())
		ch <- prometheus.MustNewConstMetric(m.epochDesc, prometheus.GaugeValue, float64(m.g.dir.Epoch()))
	}
}
