package nation

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A small nation in one process: every case completes at its destination
// and closes at its origin, over in-memory links, and the report names the
// nodes. Nothing is asserted about speed.
func TestRunSmallNation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a network")
	}
	o := NewOptions()
	o.Dir = t.TempDir()
	o.Regions = []string{"150100", "150200", "150700", "150781", "110000", "440300"}
	o.Cases, o.Concurrency, o.Seed, o.Timeout = 24, 8, 7, 2*time.Minute
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Completion.Count != 24 || res.Nodes != 6 {
		t.Errorf("completion samples %d over %d nodes, want 24 over 6", res.Completion.Count, res.Nodes)
	}
	if res.Completion.P50 <= 0 || res.Completion.Max < res.Completion.P99 {
		t.Errorf("completion %+v, want 0 < p50 and p99 <= max", res.Completion)
	}
	if len(res.Slowest) == 0 || res.Slowest[0].In+res.Slowest[0].Out == 0 || res.Slowest[0].Reason == "" {
		t.Errorf("slowest %+v, want a node with cases and a reason", res.Slowest)
	}
	total := 0
	for _, d := range res.Model.TopDestinations {
		total += d.Cases
	}
	if total == 0 || total > 24 {
		t.Errorf("top destinations %+v, want between 1 and 24 cases", res.Model.TopDestinations)
	}
	if res.Start.FDs <= 0 || res.Start.Goroutines <= 0 {
		t.Errorf("per-node start cost %+v, want descriptors and goroutines", res.Start)
	}
	var b strings.Builder
	if err := res.WriteText(&b); err != nil || !strings.Contains(b.String(), "6 nodes in one process") {
		t.Errorf("WriteText: %v\n%s", err, b.String())
	}
}
