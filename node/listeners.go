package node

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/peer"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/proto/limits"
)

// Message size bounds per listener. A sealed inter-node message is a few
// KiB (a certificate with its seal about 4); an agency import carries many
// records (admin only).
const (
	MaxPeerMessage = 256 << 10
	// maxMetricsHeader bounds a /metrics request's header.
	maxMetricsHeader = 16 << 10
)

// limitedCalls counts calls refused by a rate or concurrency limit.
func newLimitedCalls() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jiexu_calls_limited_total",
		Help: "Calls refused with ResourceExhausted by a per-caller limit, by listener and reason (rate, method_rate, concurrency).",
	}, []string{"listener", "reason"})
}

// peerKey names the caller on the inter-node listener: its region (the
// interceptor before has checked it is registered), else its certificate.
func peerKey(ctx context.Context) string {
	cert, err := certs.PeerCertificate(ctx)
	if err != nil {
		if p, ok := peer.FromContext(ctx); ok {
			return "addr " + p.Addr.String()
		}
		return ""
	}
	if region, err := certs.RegionOf(cert); err == nil {
		return "region " + region
	}
	return "cert " + certs.Fingerprint(cert)
}

// operatorKey names the caller on the agency listeners.
func operatorLimitKey(ctx context.Context) string {
	op, _ := OperatorFrom(ctx)
	return op.Name + "/" + op.Serial
}

// peerLimiter limits each peer region on the inter-node listener, with
// certificate look-ups on a stricter bucket of their own.
func (n *Node) peerLimiter() *limits.Limiter {
	l := n.cfg.Limits
	return limits.NewLimiter(limits.Config{
		Rate:        limits.Rate{PerSecond: l.PeerRate, Burst: l.PeerBurst},
		Concurrency: l.PeerConcurrency,
		Methods: map[string]limits.Rate{
			jiexuv1.CertificateService_LookupCertificate_FullMethodName: {PerSecond: l.LookupRate, Burst: l.LookupBurst},
			// A page of reconciliation reads up to 10,000 cases: as rare as a look-up.
			jiexuv1.ReconcileService_ListSharedCases_FullMethodName: {PerSecond: l.LookupRate, Burst: l.LookupBurst},
		},
		Key:     peerKey,
		OnLimit: func(_, reason string) { n.limited.WithLabelValues("peer", reason).Inc() },
	})
}

// agencyLimiter limits each operator on the agency listeners.
func (n *Node) agencyLimiter() *limits.Limiter {
	l := n.cfg.Limits
	return limits.NewLimiter(limits.Config{
		Rate:        limits.Rate{PerSecond: l.AgencyRate, Burst: l.AgencyBurst},
		Concurrency: 16,
		Methods: map[string]limits.Rate{
			jiexuv1.AgencyService_CheckCertificate_FullMethodName: {PerSecond: l.LookupRate, Burst: l.LookupBurst},
		},
		Key:     operatorLimitKey,
		OnLimit: func(_, reason string) { n.limited.WithLabelValues("agency", reason).Inc() },
	})
}

// connGuard caps a TLS listener's open connections, and each caller's: a
// connection that has not finished its handshake gives its place to a new
// one when the listener is full (limits.ConnGuard). Use its Listener and
// its Credentials together.
func (n *Node) connGuard() *limits.ConnGuard {
	return limits.NewConnGuard(n.cfg.Limits.MaxConnections, n.cfg.Limits.MaxConnectionsPerCaller)
}

// metricsServer is /metrics over HTTP with bounded headers and request and
// response times (idle connections are issue 11's).
func (n *Node) metricsServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    maxMetricsHeader,
	}
}
