package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"text/tabwriter"
)

// CompareOptions configures Compare.
type CompareOptions struct {
	// Bench is the jiexu bench of each round.
	Bench Options
	// JetStream is the jetstream-bench executable (cmd/jetstream-bench, a
	// module of its own so that NATS stays out of jiexu's dependencies).
	JetStream string
	// Rounds is how many times the three runs alternate.
	Rounds int
	// Messages is how many 1 KB messages each JetStream run with fsync on
	// every write sends; DefaultMessages each run with the default sync,
	// which is an order of magnitude faster and needs more to last as long.
	Messages, DefaultMessages int
	Progress                  io.Writer
}

// JetStreamResult is what one jetstream-bench run printed with --json.
type JetStreamResult struct {
	Sync         string  `json:"sync"`
	Messages     int     `json:"messages"`
	Size         int     `json:"size"`
	Elapsed      float64 `json:"elapsed_s"`
	MsgsPerSec   float64 `json:"msgs_per_s"`
	PublishPerS  float64 `json:"publish_per_s"`
	Server       string  `json:"server_version"`
	ServerCPU    float64 `json:"server_cpu_s"`
	ServerPeakKB int64   `json:"server_peak_rss_kb"`
}

// Round is one alternation: jiexu, then JetStream with fsync on every
// write, then with its default sync (the order rotates between rounds).
type Round struct {
	Jiexu         *Result          `json:"jiexu"`
	JetStreamSync *JetStreamResult `json:"jetstream_sync_always"`
	JetStreamDef  *JetStreamResult `json:"jetstream_default_sync"`
	// RatioSync and RatioDefault are jiexu's inter-node messages/s over
	// each JetStream figure.
	RatioSync    float64 `json:"ratio_vs_sync_always"`
	RatioDefault float64 `json:"ratio_vs_default_sync"`
}

// Comparison is every round and the medians.
type Comparison struct {
	Rounds             []Round `json:"rounds"`
	MedianJiexu        float64 `json:"median_jiexu_msgs_per_s"`
	MedianSync         float64 `json:"median_jetstream_sync_always_msgs_per_s"`
	MedianDefault      float64 `json:"median_jetstream_default_msgs_per_s"`
	MedianRatioSync    float64 `json:"median_ratio_vs_sync_always"`
	MedianRatioDefault float64 `json:"median_ratio_vs_default_sync"`
}

// Compare alternates jiexu benches and JetStream runs on this machine and
// sets their message rates side by side. The jiexu figure is inter-node
// messages acknowledged by the outboxes a second (four sealed, fsynced
// messages a transfer); JetStream's is 1 KB messages published with acks
// and consumed with an explicit ack each, a second.
func Compare(ctx context.Context, o CompareOptions) (*Comparison, error) {
	if o.JetStream == "" {
		return nil, errors.New("jetstream: the jetstream-bench binary is required (build it in cmd/jetstream-bench)")
	}
	if o.Rounds < 1 {
		return nil, fmt.Errorf("rounds: %d; at least 1", o.Rounds)
	}
	if o.Messages < 1 || o.DefaultMessages < 1 {
		return nil, fmt.Errorf("jetstream messages: %d and %d; at least 1", o.Messages, o.DefaultMessages)
	}
	c := &Comparison{}
	for i := range o.Rounds {
		var r Round
		steps := []func() error{
			func() (err error) {
				b := o.Bench
				b.Progress = o.Progress
				r.Jiexu, err = Run(ctx, b)
				return err
			},
			func() (err error) {
				r.JetStreamSync, err = runJetStream(ctx, o.JetStream, "always", o.Messages)
				return err
			},
			func() (err error) {
				r.JetStreamDef, err = runJetStream(ctx, o.JetStream, "default", o.DefaultMessages)
				return err
			},
		}
		for k := range steps { // rotate which goes first, so no system always runs on a warmer machine
			if err := steps[(k+i)%len(steps)](); err != nil {
				return nil, fmt.Errorf("round %d: %w", i+1, err)
			}
		}
		if r.JetStreamSync.MsgsPerSec > 0 {
			r.RatioSync = r.Jiexu.MessagesPerSec / r.JetStreamSync.MsgsPerSec
		}
		if r.JetStreamDef.MsgsPerSec > 0 {
			r.RatioDefault = r.Jiexu.MessagesPerSec / r.JetStreamDef.MsgsPerSec
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "round %d: jiexu %.0f msg/s, JetStream fsync-always %.0f msg/s, default sync %.0f msg/s\n",
				i+1, r.Jiexu.MessagesPerSec, r.JetStreamSync.MsgsPerSec, r.JetStreamDef.MsgsPerSec)
		}
		c.Rounds = append(c.Rounds, r)
	}
	med := func(f func(Round) float64) float64 {
		var v []float64
		for _, r := range c.Rounds {
			v = append(v, f(r))
		}
		return median(v)
	}
	c.MedianJiexu = med(func(r Round) float64 { return r.Jiexu.MessagesPerSec })
	c.MedianSync = med(func(r Round) float64 { return r.JetStreamSync.MsgsPerSec })
	c.MedianDefault = med(func(r Round) float64 { return r.JetStreamDef.MsgsPerSec })
	c.MedianRatioSync = med(func(r Round) float64 { return r.RatioSync })
	c.MedianRatioDefault = med(func(r Round) float64 { return r.RatioDefault })
	return c, nil
}

// median of v (sorted in place); the mean of the middle two for an even count.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func runJetStream(ctx context.Context, bin, sync string, messages int) (*JetStreamResult, error) {
	cmd := exec.CommandContext(ctx, bin, "--sync", sync, "--messages", strconv.Itoa(messages), "--json")
	cmd.SysProcAttr = childAttr()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s --sync %s: %w\n%s", bin, sync, err, errb.String())
	}
	var r JetStreamResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("%s --sync %s printed no result: %w", bin, sync, err)
	}
	return &r, nil
}

// WriteJSON writes the comparison as indented JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// WriteText writes one line a round and the medians.
func (c *Comparison) WriteText(w io.Writer) error {
	if len(c.Rounds) == 0 {
		return nil
	}
	r0 := c.Rounds[0]
	fmt.Fprintf(w, "jiexu: inter-node messages acknowledged by the outboxes (sealed, fsynced at both ends), %d nodes, %d cases a round\n", len(r0.Jiexu.Regions), r0.Jiexu.Cases)
	fmt.Fprintf(w, "JetStream %s: %d B messages (%d a run with fsync-always, %d with default sync), file storage, replicas 1, publish with ack, one durable consumer acking each\n\n",
		r0.JetStreamSync.Server, r0.JetStreamSync.Size, r0.JetStreamSync.Messages, r0.JetStreamDef.Messages)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ROUND\tJIEXU msg/s\tJS fsync-always msg/s\tJS default-sync msg/s\tjiexu/always\tjiexu/default\t")
	for i, r := range c.Rounds {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%.2f×\t%.3f×\t\n", i+1, r.Jiexu.MessagesPerSec, r.JetStreamSync.MsgsPerSec, r.JetStreamDef.MsgsPerSec, r.RatioSync, r.RatioDefault)
	}
	fmt.Fprintf(tw, "median\t%.0f\t%.0f\t%.0f\t%.2f×\t%.3f×\t\n", c.MedianJiexu, c.MedianSync, c.MedianDefault, c.MedianRatioSync, c.MedianRatioDefault)
	return tw.Flush()
}
