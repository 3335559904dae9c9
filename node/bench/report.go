package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// sample is the nodes' metrics and the processes' /proc at one moment.
type sample struct {
	at       time.Time
	metrics  []Metrics
	nodes    []ProcStat
	registry ProcStat
	self     ProcStat
}

func (nw *Network) sample(ctx context.Context) (*sample, error) {
	s := &sample{at: time.Now()}
	var err error
	if s.metrics, err = nw.Scrape(ctx); err != nil {
		return nil, err
	}
	for _, n := range nw.Nodes {
		ps, err := ReadProc(n.Proc.PID())
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Region, err)
		}
		s.nodes = append(s.nodes, ps)
	}
	s.registry, _ = ReadProc(nw.Registry.PID())
	s.self, _ = ReadProc(os.Getpid())
	return s, nil
}

// Result is what a bench measured.
type Result struct {
	Started     time.Time `json:"started"`
	Dir         string    `json:"dir,omitempty"`
	CPUs        int       `json:"cpus"`
	LoadAverage float64   `json:"load_average_1m"` // of the machine when the bench started
	Regions     []string  `json:"regions"`
	Pattern     string    `json:"pattern"`
	Concurrency int       `json:"concurrency"`
	TargetRate  float64   `json:"target_rate,omitempty"`
	// ProductionLimits says the nodes kept their default per-peer limits.
	ProductionLimits bool `json:"production_limits"`
	// BatchSeals says the nodes sealed messages in batches.
	BatchSeals bool `json:"batch_seals"`

	SetupSeconds float64 `json:"setup_s"`
	LoadSeconds  float64 `json:"load_s"`

	Cases          int     `json:"cases"`
	Elapsed        float64 `json:"elapsed_s"` // first application to the last case's end
	ApplyRate      float64 `json:"applied_per_s"`
	CasesPerSec    float64 `json:"cases_per_s"`
	Messages       int64   `json:"messages"` // deliveries acknowledged
	MessagesPerSec float64 `json:"messages_per_s"`
	DeliveryErrors int64   `json:"delivery_errors"`
	// DeliveryP50 and DeliveryP99 are read from the outboxes' delivery
	// histogram (enqueue to acknowledgement), interpolated within buckets.
	DeliveryP50 float64 `json:"delivery_p50_ms"`
	DeliveryP99 float64 `json:"delivery_p99_ms"`
	// Completion runs from the application (when it was due, at a fixed
	// rate) to the later of COMPLETED at the destination and CLOSED at the
	// origin, from the cases' own steps.
	Completion            Summary `json:"completion"`
	DestinationCompletion Summary `json:"destination_completion"`
	Apply                 Summary `json:"apply_call"`

	Nodes    []ProcResult `json:"nodes"`
	Registry ProcResult   `json:"registry"`
	Client   ProcResult   `json:"client"` // this bench process
	Profiles []string     `json:"profiles,omitempty"`

	completion, destCompletion, apply []time.Duration
	first, last                       time.Time
}

// ProcResult is one process's resources over the measured interval.
type ProcResult struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// CPUSeconds is user+system time spent while the cases ran; Cores is
	// that over the wall-clock time (1.0 = one core busy throughout).
	CPUSeconds float64 `json:"cpu_s"`
	Cores      float64 `json:"cores"`
	IdleRSS    int64   `json:"idle_rss_bytes,omitempty"` // after start, before any people were loaded
	RSS        int64   `json:"rss_bytes"`                // at the end
	PeakRSS    int64   `json:"peak_rss_bytes"`           // over the process's life
	StoreBytes int64   `json:"store_bytes,omitempty"`
	Delivered  int64   `json:"delivered,omitempty"`
}

func (r *Result) measure(nw *Network, idle []ProcStat, before, after *sample, cases []*benchCase) {
	r.Cases = len(cases)
	r.Completion = Summarize(r.completion)
	r.DestinationCompletion = Summarize(r.destCompletion)
	r.Apply = Summarize(r.apply)
	elapsed := r.last.Sub(r.first)
	r.Elapsed = elapsed.Seconds()
	if elapsed > 0 {
		r.CasesPerSec = float64(r.Cases) / elapsed.Seconds()
	}
	var lastStart time.Time
	for _, c := range cases {
		if c.start.After(lastStart) {
			lastStart = c.start
		}
	}
	if d := lastStart.Sub(r.first); d > 0 && r.Cases > 1 {
		r.ApplyRate = float64(r.Cases-1) / d.Seconds()
	}
	var hist []Bucket
	wall := after.at.Sub(before.at).Seconds()
	for i, n := range nw.Nodes {
		ok := int64(after.metrics[i].Sum("jiexu_outbox_deliveries_total", "result", "ok") - before.metrics[i].Sum("jiexu_outbox_deliveries_total", "result", "ok"))
		r.Messages += ok
		r.DeliveryErrors += int64(after.metrics[i].Sum("jiexu_outbox_deliveries_total", "result", "error") - before.metrics[i].Sum("jiexu_outbox_deliveries_total", "result", "error"))
		d := SubtractBuckets(after.metrics[i].Buckets("jiexu_outbox_delivery_seconds"), before.metrics[i].Buckets("jiexu_outbox_delivery_seconds"))
		hist = addBuckets(hist, d)
		pr := procResult(n.Region, n.Proc.PID(), before.nodes[i], after.nodes[i], wall)
		pr.IdleRSS = idle[i].RSS
		pr.Delivered = ok
		if fi, err := os.Stat(filepath.Join(n.Config.DataDir, "jiexu.db")); err == nil {
			pr.StoreBytes = fi.Size()
		}
		r.Nodes = append(r.Nodes, pr)
	}
	if elapsed > 0 {
		r.MessagesPerSec = float64(r.Messages) / elapsed.Seconds()
	}
	r.DeliveryP50 = 1000 * HistogramQuantile(0.5, hist)
	r.DeliveryP99 = 1000 * HistogramQuantile(0.99, hist)
	r.Registry = procResult("registry", nw.Registry.PID(), before.registry, after.registry, wall)
	r.Client = procResult("bench", os.Getpid(), before.self, after.self, wall)
}

func procResult(name string, pid int, before, after ProcStat, wall float64) ProcResult {
	cpu := (after.CPU - before.CPU).Seconds()
	pr := ProcResult{Name: name, PID: pid, CPUSeconds: cpu, RSS: after.RSS, PeakRSS: after.PeakRSS}
	if wall > 0 {
		pr.Cores = cpu / wall
	}
	return pr
}

// addBuckets sums two histograms with the same bounds (b may be empty).
func addBuckets(a, b []Bucket) []Bucket {
	if len(a) == 0 {
		return append([]Bucket(nil), b...)
	}
	sum := map[float64]float64{}
	for _, x := range b {
		sum[x.UpperBound] = x.Count
	}
	out := make([]Bucket, len(a))
	for i, x := range a {
		out[i] = Bucket{UpperBound: x.UpperBound, Count: x.Count + sum[x.UpperBound]}
	}
	return out
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the result as a short report and a table of processes.
func (r *Result) WriteText(w io.Writer) error {
	mode := fmt.Sprintf("flat out, at most %d applications in flight", r.Concurrency)
	if r.TargetRate > 0 {
		mode = fmt.Sprintf("at %g applications/s (at most %d in flight)", r.TargetRate, r.Concurrency)
	}
	fmt.Fprintf(w, "jiexu bench: %d node processes (%s, %s), %d cases, %s\n", len(r.Regions), strings.Join(r.Regions, " "), r.Pattern, r.Cases, mode)
	fmt.Fprintf(w, "  machine            %d CPUs, load average %.2f when the bench started\n", r.CPUs, r.LoadAverage)
	if r.ProductionLimits {
		fmt.Fprintf(w, "  limits             the nodes' defaults (node.DefaultLimits): refused calls show as failed attempts\n")
	} else {
		fmt.Fprintf(w, "  limits             per-peer rate and concurrency lifted (--production-limits keeps them)\n")
	}
	if r.BatchSeals {
		fmt.Fprintf(w, "  seals              batch_seals on: one signature over the messages of a commit\n")
	}
	fmt.Fprintf(w, "  setup              %.1f s to start the processes, %.1f s to load %d people at both ends\n", r.SetupSeconds, r.LoadSeconds, r.Cases)
	fmt.Fprintf(w, "  elapsed            %.2f s from the first application to the last case's end\n", r.Elapsed)
	fmt.Fprintf(w, "  cases              %d completed and closed   %.0f cases/s   (applied at %.0f/s)\n", r.Cases, r.CasesPerSec, r.ApplyRate)
	perCase := 0.0
	if r.Cases > 0 {
		perCase = float64(r.Messages) / float64(r.Cases)
	}
	fmt.Fprintf(w, "  inter-node msgs    %d acknowledged (%.2f a case)   %.0f msg/s   %d failed attempts\n", r.Messages, perCase, r.MessagesPerSec, r.DeliveryErrors)
	fmt.Fprintf(w, "  delivery           p50 %s  p99 %s   (outbox enqueue → acknowledgement; histogram, interpolated in buckets)\n", fmtMS(r.DeliveryP50), fmtMS(r.DeliveryP99))
	fmt.Fprintf(w, "  case completion    p50 %s  p90 %s  p99 %s  max %s   (application → COMPLETED and CLOSED, from the cases' steps)\n",
		fmtMS(r.Completion.P50), fmtMS(r.Completion.P90), fmtMS(r.Completion.P99), fmtMS(r.Completion.Max))
	fmt.Fprintf(w, "  destination done   p50 %s  p99 %s   (application → COMPLETED at the destination)\n", fmtMS(r.DestinationCompletion.P50), fmtMS(r.DestinationCompletion.P99))
	fmt.Fprintf(w, "  apply call         p50 %s  p99 %s\n\n", fmtMS(r.Apply.P50), fmtMS(r.Apply.P99))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PROCESS\tPID\tCPU s\tCORES\tIDLE RSS\tRSS\tPEAK RSS\tSTORE\tDELIVERED\t")
	for _, p := range append(append([]ProcResult{}, r.Nodes...), r.Registry, r.Client) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", p.Name, p.PID, p.CPUSeconds, p.Cores,
			fmtBytes(p.IdleRSS), fmtBytes(p.RSS), fmtBytes(p.PeakRSS), fmtBytes(p.StoreBytes), fmtCount(p.Delivered))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Profiles) > 0 {
		fmt.Fprintf(w, "\nprofiles: %s\n  go tool pprof -top FILE.cpu.pprof\n  go tool pprof -top -sample_index=alloc_space -base REGION.allocs-before.pprof REGION.allocs-after.pprof\n", strings.Join(r.Profiles, " "))
	}
	return nil
}

func fmtMS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v >= 10_000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.1f ms", v)
	}
}

func fmtBytes(b int64) string {
	switch {
	case b <= 0:
		return "—"
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	default:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
}

func fmtCount(n int64) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprint(n)
}
