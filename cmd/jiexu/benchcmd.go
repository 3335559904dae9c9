package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"jiexu/node/bench"
	"jiexu/node/bench/backlog"
	"jiexu/node/bench/nation"
)

// rateValue reads "500", "500/s" or "500/m" as applications a second.
type rateValue float64

func (r *rateValue) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *rateValue) Type() string { return "N/s" }

func (r *rateValue) Set(v string) error {
	num, unit, _ := strings.Cut(v, "/")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return fmt.Errorf("rate %q: want a number of cases per second, like 500/s", v)
	}
	switch unit {
	case "", "s":
	case "m":
		f /= 60
	default:
		return fmt.Errorf("rate %q: the unit is /s or /m", v)
	}
	*r = rateValue(f)
	return nil
}

// self is the jiexu binary, which the benches start nodes with.
func self(what string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the jiexu binary to start %s with: %w", what, err)
	}
	return exe, nil
}

func newBenchCmd() *cobra.Command {
	o := bench.NewOptions()
	var rate rateValue
	var asJSON bool
	var compare string
	var rounds, jsMessages, jsDefault int
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "measure transfers between node processes (and JetStream beside them)",
		Long: `bench starts a network of separate 'jiexu node serve' processes, loads people at both
ends, applies transfers flat out or at --rate, waits until every case has completed at its
destination and closed at its origin, and reports inter-node messages/s, cases/s, delivery and
completion percentiles, and CPU and memory per process. Progress goes to standard error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Rate = float64(rate)
			var err error
			if o.Binary, err = self("nodes"); err != nil {
				return err
			}
			o.Progress = cmd.ErrOrStderr()
			out := cmd.OutOrStdout()
			if compare != "" {
				c, err := bench.Compare(cmd.Context(), bench.CompareOptions{Bench: o, JetStream: compare, Rounds: rounds, Messages: jsMessages, DefaultMessages: jsDefault, Progress: cmd.ErrOrStderr()})
				if err != nil {
					return err
				}
				if asJSON {
					return c.WriteJSON(out)
				}
				return c.WriteText(out)
			}
			res, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(out)
			}
			return res.WriteText(out)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", o.Nodes, "node processes (2 to 64)")
	f.IntVar(&o.Cases, "cases", o.Cases, "transfer cases to apply (and people to load); with --duration, the most")
	f.DurationVar(&o.Duration, "duration", 0, "stop applying after this long (e.g. 30s)")
	f.Var(&rate, "rate", "applications a second, e.g. 500/s (default: flat out)")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "agency calls in flight at most")
	f.BoolVar(&o.OneWay, "one-way", false, "every case from the first node to the second (default: a ring, every node both origin and destination)")
	f.StringVar(&o.Dir, "dir", "", "folder for the network (default: a temporary folder, removed afterwards unless --keep)")
	f.BoolVar(&o.Keep, "keep", false, "keep the network's folder (stores and logs)")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for the last cases after the last application")
	f.StringVar(&o.ProfileDir, "profile", "", "folder for pprof profiles of each node (turns on debug_pprof)")
	f.IntVar(&o.ProfileSeconds, "profile-seconds", o.ProfileSeconds, fmt.Sprintf("length of the CPU profile, taken from the first application (at most %d)", bench.MaxProfileSeconds))
	f.StringVar(&o.LogLevel, "log-level", "", "the nodes' log level (default info, as in production)")
	f.BoolVar(&o.BatchSeals, "batch-seals", false, "turn on the nodes' batch_seals: one signature over the messages of a commit")
	f.BoolVar(&o.ProductionLimits, "production-limits", false, "keep the nodes' default per-peer limits (200 messages/s a peer) instead of lifting them")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&compare, "compare-jetstream", "", "a jetstream-bench binary (cmd/jetstream-bench): alternate runs of both and print the ratios")
	f.IntVar(&rounds, "rounds", 3, "with --compare-jetstream: rounds of jiexu, JetStream fsync-always and JetStream default sync")
	f.IntVar(&jsMessages, "jetstream-messages", 20000, "with --compare-jetstream: messages a JetStream run with fsync on every write")
	f.IntVar(&jsDefault, "jetstream-default-messages", 200000, "with --compare-jetstream: messages a JetStream run with the default sync")
	cmd.AddCommand(newBenchNationCmd(), newBenchBacklogCmd())
	return cmd
}

func newBenchNationCmd() *cobra.Command {
	o := nation.NewOptions()
	var rate rateValue
	var asJSON, idle bool
	cmd := &cobra.Command{
		Use:   "nation",
		Short: "every pooling region as a node in one process, and a national mix of transfers",
		Long: `nation starts every pooling region (about 370: each prefecture-level place, the
municipalities, the county-level cities a province administers) as a node in this process,
moves --cases transfers between them (two in three within a province, the rest drawn to
the big cities), and reports completion time, memory per node and the slowest nodes.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Rate = float64(rate)
			if idle {
				var err error
				if o.Binary, err = self("the idle node"); err != nil {
					return err
				}
			}
			o.Progress = cmd.ErrOrStderr()
			res, err := nation.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(cmd.OutOrStdout())
			}
			return res.WriteText(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Cases, "cases", o.Cases, fmt.Sprintf("transfer cases across the country (at most %d)", nation.MaxCases))
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "agency calls in flight at most")
	f.Var(&rate, "rate", "applications a second, e.g. 500/s (default: flat out)")
	f.BoolVar(&o.TCP, "tcp", false, "links between nodes over loopback TCP (4 file descriptors a pair of peers) instead of in memory")
	f.StringSliceVar(&o.Regions, "regions", nil, "only these pooling regions (default: every one)")
	f.StringVar(&o.Dir, "dir", "", "folder for the network (default: a temporary folder, removed afterwards unless --keep)")
	f.BoolVar(&o.Keep, "keep", false, "keep the network's folder")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for the last cases after the last application")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.StringVar(&o.MemProfile, "memprofile", "", "write an allocation profile at the end to this file")
	f.BoolVar(&idle, "idle-node", true, "also measure one idle node's memory as a process of its own")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func newBenchBacklogCmd() *cobra.Command {
	o := backlog.NewOptions()
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "backlog",
		Short: "restart a node with N messages pending and time its first delivery",
		Long: `backlog seals --messages notices into a stopped node's outbox, as people applying while
their origin is down would, starts the node as a process of its own, and times start →
serving → first delivery at a peer that acknowledges everything, then the drain rate and a
/metrics scrape with the backlog pending.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Binary, err = self("the node"); err != nil {
				return err
			}
			o.Progress = cmd.ErrOrStderr()
			res, err := backlog.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(cmd.OutOrStdout())
			}
			return res.WriteText(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Messages, "messages", o.Messages, "messages pending in the outbox at the restart")
	f.IntVar(&o.Batch, "batch", o.Batch, "messages stored per transaction while filling")
	f.DurationVar(&o.Drain, "drain", o.Drain, "how long to count deliveries after the first")
	f.BoolVar(&o.Cold, "cold", false, "evict the store from the page cache before the restart (Linux), as after a reboot")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for the first delivery")
	f.StringVar(&o.Dir, "dir", "", "folder for the network (default: a temporary folder, removed afterwards unless --keep)")
	f.BoolVar(&o.Keep, "keep", false, "keep the network's folder")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
