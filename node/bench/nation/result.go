package nation

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"jiexu/node/bench"
	"jiexu/node/devnet"
)

// Result is what a national simulation measured.
type Result struct {
	Started     time.Time `json:"started"`
	Dir         string    `json:"dir,omitempty"`
	CPUs        int       `json:"cpus"`
	LoadAverage float64   `json:"load_average_1m"`
	Nodes       int       `json:"nodes"`
	Cases       int       `json:"cases"`
	Concurrency int       `json:"concurrency"`
	TCP         bool      `json:"tcp_links"`

	Model ModelSummary `json:"model"`

	// IdleNodeRSS is one idle node's resident memory as its own process.
	IdleNodeRSS int64 `json:"idle_node_rss_bytes,omitempty"`

	InitSeconds  float64 `json:"init_s"`  // CA, certificates, configs, registry for every node
	StartSeconds float64 `json:"start_s"` // opening every store and starting every node
	LoadSeconds  float64 `json:"load_s"`  // importing the people at both ends
	// Start is what starting the nodes cost this process, per node.
	Start PerNode `json:"start_per_node"`
	// End is the process at the end of the run, per node.
	End PerNode `json:"end_per_node"`

	Elapsed     float64       `json:"elapsed_s"` // first application to the last case's end
	CasesPerSec float64       `json:"cases_per_s"`
	CPUSeconds  float64       `json:"cpu_s"` // this process, while the cases ran
	Completion  bench.Summary `json:"completion"`
	StoreBytes  int64         `json:"store_bytes_total"`
	StoreMax    int64         `json:"store_bytes_max"`
	// Slowest are the nodes whose cases took longest (by p99), at least
	// ten cases each.
	Slowest []NodeReport `json:"slowest"`

	before, started, loaded, after selfStat
}

// PerNode is this process's resources divided by the number of nodes.
type PerNode struct {
	HeapInuse  int64   `json:"heap_inuse_bytes"`
	RSS        int64   `json:"rss_bytes"`
	FDs        float64 `json:"fds"`
	Goroutines float64 `json:"goroutines"`
	StartMS    float64 `json:"start_ms,omitempty"`
}

// ModelSummary describes the moves the model drew.
type ModelSummary struct {
	IntraProvince   float64      `json:"intra_province"`
	DistinctPairs   int          `json:"distinct_pairs"`
	TopDestinations []RegionLoad `json:"top_destinations"`
}

// RegionLoad is a region and its number of cases.
type RegionLoad struct {
	Region string `json:"region"`
	Cases  int    `json:"cases"`
}

// NodeReport is one node of the slowest.
type NodeReport struct {
	Region  string  `json:"region"`
	In      int     `json:"cases_in"`
	Out     int     `json:"cases_out"`
	Load    float64 `json:"load_vs_mean"` // (in + out) over the mean node's
	Peers   int     `json:"peers"`
	Pending int     `json:"peak_outbox"` // as sampled
	LastEnd float64 `json:"last_end_s"`  // after the first application
	P99     float64 `json:"p99_ms"`      // of the cases it took part in
	Reason  string  `json:"why"`
}

func summarize(m *Model, cases []*simCase) ModelSummary {
	var s ModelSummary
	pairs := map[[2]int]bool{}
	in := make([]int, len(m.Regions))
	intra := 0
	for _, c := range cases {
		pairs[[2]int{min(c.from, c.to), max(c.from, c.to)}] = true
		in[c.to]++
		if m.Regions[c.from].Code[:2] == m.Regions[c.to].Code[:2] {
			intra++
		}
	}
	s.IntraProvince = float64(intra) / float64(len(cases))
	s.DistinctPairs = len(pairs)
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return in[b] - in[a] })
	for _, i := range idx[:min(5, len(idx))] {
		s.TopDestinations = append(s.TopDestinations, RegionLoad{Region: m.Regions[i].Code, Cases: in[i]})
	}
	return s
}

func perNode(a, b selfStat, n int) PerNode {
	return PerNode{
		HeapInuse:  (int64(a.heapInuse) - int64(b.heapInuse)) / int64(n),
		RSS:        (a.rss - b.rss) / int64(n),
		FDs:        float64(a.fds-b.fds) / float64(n),
		Goroutines: float64(a.goroutines-b.goroutines) / float64(n),
	}
}

func (r *Result) finish(nw *devnet.Network, regions []string, cases []*simCase, w *watcher) {
	r.Start = perNode(r.started, r.before, len(regions))
	r.Start.StartMS = 1000 * r.StartSeconds / float64(len(regions))
	r.End = perNode(r.after, r.before, len(regions))
	r.CPUSeconds = (r.after.cpu - r.loaded.cpu).Seconds()
	var first, last time.Time
	var all []time.Duration
	type nodeAgg struct {
		in, out int
		peers   map[int]bool
		last    time.Time
		lat     []time.Duration
	}
	agg := make([]*nodeAgg, len(regions))
	for i := range agg {
		agg[i] = &nodeAgg{peers: map[int]bool{}}
	}
	for _, c := range cases {
		if first.IsZero() || c.start.Before(first) {
			first = c.start
		}
		if c.end.After(last) {
			last = c.end
		}
		d := c.end.Sub(c.start)
		all = append(all, d)
		dst, org := agg[c.to], agg[c.from]
		dst.in++
		org.out++
		dst.peers[c.from], org.peers[c.to] = true, true
		dst.lat, org.lat = append(dst.lat, d), append(org.lat, d)
		if c.destEnd.After(dst.last) {
			dst.last = c.destEnd
		}
		if c.origEnd.After(org.last) {
			org.last = c.origEnd
		}
	}
	r.Elapsed = last.Sub(first).Seconds()
	if r.Elapsed > 0 {
		r.CasesPerSec = float64(len(cases)) / r.Elapsed
	}
	r.Completion = bench.Summarize(all)
	for _, nl := range nw.Layout.Nodes {
		if fi, err := os.Stat(filepath.Join(nl.Dir, "data", "jiexu.db")); err == nil {
			r.StoreBytes += fi.Size()
			r.StoreMax = max(r.StoreMax, fi.Size())
		}
	}
	mean := 2 * float64(len(cases)) / float64(len(regions))
	idx := make([]int, len(regions))
	for i := range idx {
		idx[i] = i
	}
	p99 := make([]float64, len(regions))
	for i, a := range agg {
		p99[i] = bench.Summarize(a.lat).P99
	}
	slices.SortFunc(idx, func(a, b int) int {
		// Nodes with fewer than ten cases have no p99 worth ranking by.
		ra, rb := len(agg[a].lat) >= 10, len(agg[b].lat) >= 10
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		switch {
		case p99[a] > p99[b]:
			return -1
		case p99[a] < p99[b]:
			return 1
		}
		return 0
	})
	for _, i := range idx[:min(5, len(idx))] {
		a := agg[i]
		if a.in+a.out == 0 {
			continue
		}
		nr := NodeReport{Region: regions[i], In: a.in, Out: a.out, Load: float64(a.in+a.out) / mean, Peers: len(a.peers),
			Pending: w.nodes[i].peakPending, LastEnd: a.last.Sub(first).Seconds(), P99: p99[i]}
		nr.Reason = reason(nr, r.Completion)
		r.Slowest = append(r.Slowest, nr)
	}
}

// reason says why a node finished late, from what was measured.
func reason(n NodeReport, all bench.Summary) string {
	var why []string
	if n.Load >= 2 {
		why = append(why, fmt.Sprintf("%.1f× the mean node's cases (%d in, %d out)", n.Load, n.In, n.Out))
	}
	if n.Pending >= 100 {
		why = append(why, fmt.Sprintf("its outbox held up to %d messages", n.Pending))
	}
	if n.Peers >= 50 {
		why = append(why, fmt.Sprintf("%d peers", n.Peers))
	}
	if len(why) == 0 {
		if n.P99 > 2*all.P99 {
			return "an ordinary load, slow cases: look at its node.log for delivery retries"
		}
		return "an ordinary load and peers: its cases waited on the machine every node shares (disk and CPU)"
	}
	return strings.Join(why, "; ")
}

// WriteJSON writes the result as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report.
func (r *Result) WriteText(w io.Writer) error {
	links := "in memory (net.Pipe), mutual TLS"
	if r.TCP {
		links = "loopback TCP, mutual TLS"
	}
	fmt.Fprintf(w, "jiexu national simulation: %d nodes in one process, links %s, %d cases, at most %d applications in flight\n", r.Nodes, links, r.Cases, r.Concurrency)
	fmt.Fprintf(w, "  machine          %d CPUs, load average %.2f when it started (measured under that load)\n", r.CPUs, r.LoadAverage)
	fmt.Fprintf(w, "  mix              %.0f%% within a province, %d distinct pairs of nodes; busiest destinations", 100*r.Model.IntraProvince, r.Model.DistinctPairs)
	for _, t := range r.Model.TopDestinations {
		fmt.Fprintf(w, " %s (%d)", t.Region, t.Cases)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  setup            init %.1f s, start %.1f s (%.0f ms a node), load %.1f s\n", r.InitSeconds, r.StartSeconds, r.Start.StartMS, r.LoadSeconds)
	fmt.Fprintf(w, "  a node started   %s heap, %s resident, %.1f file descriptors, %.0f goroutines (this process's growth / nodes)\n",
		kib(r.Start.HeapInuse), kib(r.Start.RSS), r.Start.FDs, r.Start.Goroutines)
	fmt.Fprintf(w, "  a node at the end %s heap, %s resident, %.1f file descriptors, %.0f goroutines\n", kib(r.End.HeapInuse), kib(r.End.RSS), r.End.FDs, r.End.Goroutines)
	if r.IdleNodeRSS > 0 {
		fmt.Fprintf(w, "  an idle node     %s resident as a process of its own\n", kib(r.IdleNodeRSS))
	}
	fmt.Fprintf(w, "  completion       %.1f s from the first application to the last case's end: %.0f cases/s, %.0f CPU s\n", r.Elapsed, r.CasesPerSec, r.CPUSeconds)
	fmt.Fprintf(w, "  case latency     p50 %.0f ms  p90 %.0f ms  p99 %.0f ms  max %.0f ms\n", r.Completion.P50, r.Completion.P90, r.Completion.P99, r.Completion.Max)
	fmt.Fprintf(w, "  stores           %s in all, the largest %s\n\nthe slowest nodes (the highest p99 of the cases they took part in, ten cases or more):\n", kib(r.StoreBytes), kib(r.StoreMax))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tIN\tOUT\tLOAD\tPEERS\tPEAK OUTBOX\tLAST END\tP99\tWHY")
	for _, n := range r.Slowest {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f×\t%d\t%d\t%.1f s\t%.0f ms\t%s\n", n.Region, n.In, n.Out, n.Load, n.Peers, n.Pending, n.LastEnd, n.P99, n.Reason)
	}
	return tw.Flush()
}

func kib(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", b>>10)
	}
}
