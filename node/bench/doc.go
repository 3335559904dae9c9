// Package bench measures jiexu: a network of separate node processes
// driven through the agency API (Run, behind 'jiexu bench'), side by side
// with NATS JetStream on the same machine (Compare), and the instruments
// they share: /proc readings of a process (ReadProc), a parser for the
// nodes' /metrics (ParseMetrics), percentiles of latencies (Percentile,
// Summarize) and of Prometheus histograms (HistogramQuantile), and the
// pooling regions of the division table (PoolingRegions).
//
// A bench writes a devnet (node/devnet) whose nodes are all insurance
// agencies, starts 'jiexu registry serve' and one 'jiexu node serve' per
// region, imports the people (suspended at their origin, which issues
// their certificates; enrolled at their destination), reads each
// applicant's certificate number and verification code from the origin
// (Proofs), then applies the transfers at the destinations presenting
// them, flat out with a bounded number of calls
// in flight or at a fixed rate, and waits until every case has completed
// at its destination and closed at its origin with no message left in an
// outbox:
//
//	o := bench.NewOptions()
//	o.Binary, o.Cases = "/usr/local/bin/jiexu", 5000
//	res, err := bench.Run(ctx, o)
//	if err == nil {
//		res.WriteText(os.Stdout)
//	}
//
// Messages a second are the outboxes' acknowledged deliveries
// (jiexu_outbox_deliveries_total{result="ok"}), four a transfer; delivery
// latency comes from jiexu_outbox_delivery_seconds, interpolated within
// its buckets; case completion is measured per case from the cases' own
// steps. CPU and memory come from /proc/PID/stat and /proc/PID/status.
// Every process the bench starts is stopped when it returns, and killed
// by the kernel if the bench itself dies (Linux).
package bench
