package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"jiexu/node/bench"
	"jiexu/node/bench/backlog"
)

// A tiny bench between two node processes: every case completes at the
// destination and closes at the origin, each with its four messages
// acknowledged, and the report says so. Speed is not asserted.
func TestBenchTwoNodeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := filepath.Join(t.TempDir(), "net")
	cmd := exec.Command(binary, "bench", "--cases", "12", "--concurrency", "4", "--json", "--dir", dir, "--keep", "--timeout", "2m")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jiexu bench: %v\n%s", err, stderr.String())
	}
	var r bench.Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	if r.Cases != 12 || r.Completion.Count != 12 || r.DestinationCompletion.Count != 12 {
		t.Errorf("cases %d, completion samples %d/%d; want 12 each", r.Cases, r.Completion.Count, r.DestinationCompletion.Count)
	}
	if r.Messages != 4*12 {
		t.Errorf("messages acknowledged = %d, want %d (notice, certificate, remittance, confirmation a case)", r.Messages, 4*12)
	}
	if len(r.Nodes) != 2 || r.Nodes[0].Delivered+r.Nodes[1].Delivered != r.Messages {
		t.Errorf("nodes %+v; want 2 whose deliveries add up to %d", r.Nodes, r.Messages)
	}
	for _, n := range r.Nodes {
		if n.PID <= 0 || n.RSS <= 0 || n.IdleRSS <= 0 || n.StoreBytes <= 0 {
			t.Errorf("node %s: %+v; want a pid, memory and a store", n.Name, n)
		}
	}
	if r.Completion.P50 <= 0 || r.Completion.P99 < r.Completion.P50 || r.Completion.Max < r.Completion.P99 {
		t.Errorf("completion %+v; want 0 < p50 <= p99 <= max", r.Completion)
	}
	if r.Elapsed <= 0 || r.CasesPerSec <= 0 || r.MessagesPerSec <= 0 {
		t.Errorf("elapsed %g s, %g cases/s, %g msg/s; want positive", r.Elapsed, r.CasesPerSec, r.MessagesPerSec)
	}
	// The processes are gone: nothing holds the stores any more.
	for _, n := range r.Nodes {
		if _, err := bench.ReadProc(n.PID); err == nil {
			t.Errorf("node %s (pid %d) still runs after the bench", n.Name, n.PID)
		}
	}
}

func TestBenchRejectsBadOptions(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--nodes", "1"}, "nodes"},
		{[]string{"bench", "--rate", "fast"}, "rate"},
		{[]string{"bench", "--rate", "5/h"}, "/s or /m"},
		{[]string{"bench", "--cases", "0"}, "cases"},
	}
	for _, tt := range tests {
		out, err := exec.Command(binary, tt.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tt.want) {
			t.Errorf("jiexu %v: %v\n%s\nwant an error naming %q", tt.args, err, out, tt.want)
		}
	}
}

// A node restarted with a small backlog delivers it all to the peer, and
// the bench times its start and its first delivery.
func TestBenchBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cmd := exec.Command(binary, "bench", "backlog", "--messages", "300", "--batch", "128", "--drain", "1m", "--json", "--dir", filepath.Join(t.TempDir(), "net"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jiexu bench backlog: %v\n%s", err, stderr.String())
	}
	var r backlog.Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bench backlog --json printed %q: %v", out, err)
	}
	if r.Messages != 300 || r.Delivered != 300 {
		t.Errorf("messages %d, delivered %d; want 300 of 300", r.Messages, r.Delivered)
	}
	// The dispatchers start before the servers: the first delivery may come
	// before the node logs that it serves.
	if r.ToServing <= 0 || r.ToFirstDelivery <= 0 {
		t.Errorf("start → serving %g s, → first delivery %g s; want both measured", r.ToServing, r.ToFirstDelivery)
	}
	if r.StoreBytes <= 0 || r.FillSeconds <= 0 || r.RSS <= 0 {
		t.Errorf("store %d B, fill %g s, rss %d; want all positive", r.StoreBytes, r.FillSeconds, r.RSS)
	}
}

// The comparison sets jiexu's message rate against each JetStream run's,
// here a stand-in that reports fixed rates: the ratios must be computed
// from the same round's figures.
func TestBenchCompareJetStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "jetstream-bench")
	script := `#!/bin/sh
case "$*" in
*"--sync always"*) echo '{"sync":"always","messages":10,"size":1024,"elapsed_s":0.1,"msgs_per_s":100,"server_version":"fake"}' ;;
*) echo '{"sync":"default","messages":20,"size":1024,"elapsed_s":0.02,"msgs_per_s":1000,"server_version":"fake"}' ;;
esac
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "bench", "--compare-jetstream", fake, "--rounds", "1", "--cases", "6", "--concurrency", "3", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jiexu bench --compare-jetstream: %v\n%s", err, stderr.String())
	}
	var c bench.Comparison
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	if len(c.Rounds) != 1 || c.Rounds[0].Jiexu == nil || c.Rounds[0].Jiexu.Cases != 6 {
		t.Fatalf("rounds %+v, want one with a 6-case jiexu bench", c.Rounds)
	}
	r := c.Rounds[0]
	jx := r.Jiexu.MessagesPerSec
	if r.JetStreamSync.MsgsPerSec != 100 || r.JetStreamDef.MsgsPerSec != 1000 {
		t.Errorf("JetStream rates %g and %g, want 100 and 1000 as the stand-in said", r.JetStreamSync.MsgsPerSec, r.JetStreamDef.MsgsPerSec)
	}
	if math.Abs(r.RatioSync-jx/100) > 1e-9 || math.Abs(r.RatioDefault-jx/1000) > 1e-9 {
		t.Errorf("ratios %g and %g, want %g and %g", r.RatioSync, r.RatioDefault, jx/100, jx/1000)
	}
	if c.MedianJiexu != jx || c.MedianRatioSync != r.RatioSync {
		t.Errorf("medians of one round %g, %g; want the round's %g, %g", c.MedianJiexu, c.MedianRatioSync, jx, r.RatioSync)
	}
}
