package node

import (
	"encoding/binary"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"jiexu/node/render"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// metrics are the node's business metrics. Labels are sides and states,
// never a person, case id or certificate number.
type metrics struct {
	n            *Node
	opened       *prometheus.CounterVec
	completed    *prometheus.CounterVec
	refused      *prometheus.CounterVec
	ended        *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	certificates prometheus.Counter
	remittedFen  prometheus.Counter
	receivedFen  prometheus.Counter

	casesDesc, awaitingDesc, overdueDesc, certExpiryDesc, infoDesc *prometheus.Desc
}

func newMetrics(n *Node) *metrics {
	return &metrics{
		n: n,
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_cases_opened_total", Help: "Transfer cases opened, by side.",
		}, []string{"side"}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_cases_completed_total", Help: "Transfer cases completed (destination) or closed (origin), by side.",
		}, []string{"side"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_cases_refused_total", Help: "Transfer cases refused, by side.",
		}, []string{"side"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jiexu_cases_ended_total", Help: "Transfer cases that reached an end, by side and end state (completed, closed, refused, withdrawn, returned).",
		}, []string{"side", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jiexu_case_duration_seconds", Help: "Time from opening to the end of a case, by side.",
			Buckets: []float64{.1, .5, 1, 5, 30, 60, 600, 3600, 86400, 5 * 86400, 10 * 86400, 30 * 86400},
		}, []string{"side"}),
		certificates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jiexu_certificates_issued_total", Help: "Certificates (参保凭证) issued by this node.",
		}),
		remittedFen: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jiexu_remitted_fen_total", Help: "Personal-account balances remitted out, in fen.",
		}),
		receivedFen: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jiexu_received_fen_total", Help: "Personal-account balances received and credited, in fen.",
		}),
		casesDesc:      prometheus.NewDesc("jiexu_cases", "Transfer cases held, by side and state.", []string{"side", "state"}, nil),
		awaitingDesc:   prometheus.NewDesc("jiexu_remittances_awaiting_confirmation", "Origin cases remitted but not yet confirmed.", nil, nil),
		overdueDesc:    prometheus.NewDesc("jiexu_cases_overdue", "Open cases past a working-day deadline of the 2021 rule, by side.", []string{"side"}, nil),
		certExpiryDesc: prometheus.NewDesc("jiexu_node_certificate_expiry_seconds", "Seconds until the node certificate expires.", nil, nil),
		infoDesc:       prometheus.NewDesc("jiexu_node_info", "The node's region and build version (value 1).", []string{"region", "version"}, nil),
	}
}

func (m *metrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{m.opened, m.completed, m.refused, m.ended, m.duration, m.certificates, m.remittedFen, m.receivedFen}
}

// initialize makes every counter exist at 0 for its known labels, so that
// alerts and rates see a series before the first event.
func (m *metrics) initialize() {
	for side, states := range transfer.Sides {
		s := render.Label(side)
		m.opened.WithLabelValues(s)
		m.completed.WithLabelValues(s)
		m.refused.WithLabelValues(s)
		for _, st := range states {
			if transfer.Terminal(st) {
				m.ended.WithLabelValues(s, render.Label(st))
			}
		}
	}
}

// transition counts a case's step; it runs after the transaction commits.
func (m *metrics) transition(side jiexuv1.CaseSide, from, to jiexuv1.CaseState, age time.Duration) {
	s := render.Label(side)
	if from == jiexuv1.CaseState_CASE_STATE_UNSPECIFIED {
		m.opened.WithLabelValues(s).Inc()
	}
	if !transfer.Terminal(to) {
		return
	}
	m.ended.WithLabelValues(s, render.Label(to)).Inc()
	m.duration.WithLabelValues(s).Observe(age.Seconds())
	switch to {
	case jiexuv1.CaseState_CASE_STATE_COMPLETED, jiexuv1.CaseState_CASE_STATE_CLOSED:
		m.completed.WithLabelValues(s).Inc()
	case jiexuv1.CaseState_CASE_STATE_REFUSED:
		m.refused.WithLabelValues(s).Inc()
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.vecs() {
		c.Describe(ch)
	}
	ch <- m.casesDesc
	ch <- m.awaitingDesc
	ch <- m.overdueDesc
	ch <- m.certExpiryDesc
	ch <- m.infoDesc
}

// Collect implements prometheus.Collector; case gauges are counted from the
// store at scrape time.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.vecs() {
		c.Collect(ch)
	}
	st := m.n.caseCounts()
	for side, states := range transfer.Sides {
		for _, state := range states {
			ch <- prometheus.MustNewConstMetric(m.casesDesc, prometheus.GaugeValue, float64(st.byState[caseKey{side, state}]), render.Label(side), render.Label(state))
		}
	}
	ch <- prometheus.MustNewConstMetric(m.awaitingDesc, prometheus.GaugeValue, float64(st.awaiting))
	for _, side := range []jiexuv1.CaseSide{jiexuv1.CaseSide_CASE_SIDE_DESTINATION, jiexuv1.CaseSide_CASE_SIDE_ORIGIN} {
		ch <- prometheus.MustNewConstMetric(m.overdueDesc, prometheus.GaugeValue, float64(st.overdue[side]), render.Label(side))
	}
	ch <- prometheus.MustNewConstMetric(m.certExpiryDesc, prometheus.GaugeValue, m.n.kp.Leaf().NotAfter.Sub(m.n.now()).Seconds())
	ch <- prometheus.MustNewConstMetric(m.infoDesc, prometheus.GaugeValue, 1, m.n.cfg.Region, Version)
}

type caseKey struct {
	side  jiexuv1.CaseSide
	state jiexuv1.CaseState
}

// caseStats are counts of the cases held.
type caseStats struct {
	byState  map[caseKey]int
	awaiting int                      // origin cases remitted, not yet confirmed
	overdue  map[jiexuv1.CaseSide]int // open cases past a deadline
}

// caseCounts reads the case counts the store keeps, and checks the
// deadlines of the open cases only: terminal cases cannot be overdue.
func (n *Node) caseCounts() caseStats {
	st := caseStats{byState: map[caseKey]int{}, overdue: map[jiexuv1.CaseSide]int{}}
	now := n.now()
	_ = n.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketCaseCounts).ForEach(func(k, v []byte) error {
			if len(k) == 2 && len(v) == 8 {
				st.byState[caseKey{jiexuv1.CaseSide(k[0]), jiexuv1.CaseState(k[1])}] = int(binary.BigEndian.Uint64(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketOpenCases).ForEach(func(_, caseID []byte) error {
			c, err := getCase(tx, string(caseID))
			if err == nil && c != nil && transfer.Overdue(c, now) {
				st.overdue[c.GetSide()]++
			}
			return nil
		})
	})
	st.awaiting = st.byState[caseKey{jiexuv1.CaseSide_CASE_SIDE_ORIGIN, jiexuv1.CaseState_CASE_STATE_REMITTED}]
	return st
}
