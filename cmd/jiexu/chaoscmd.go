package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"jiexu/node/chaos"
	"jiexu/node/devnet"
)

func newChaosCmd() *cobra.Command {
	var duration, drain time.Duration
	var dir string
	var people int
	var seed uint64
	var faults, regions []string
	cmd := &cobra.Command{
		Use:   "chaos [--duration 10m]",
		Short: "run a network of node processes under faults, then check its invariants on every store",
		Long: `Run a network of separate jiexu node processes, each behind a fault proxy, move
people between them, and meanwhile SIGKILL nodes at random instants, cut every
pair of nodes (connection resets and black holes), take the registry down, fill
a node's disk (a tmpfs per node where mount is permitted, else RLIMIT_FSIZE),
and optionally restore each node once from an old backup. Then heal everything, wait for
the network to drain, stop the nodes and check on their stores that each case
ended once on each side, money is conserved per person and in total, serials
have no gap or repeat, and every outbox is empty or dead-lettered with a
reason. Exits 1 on any violation; the folder keeps every log and store.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var f chaos.Faults
			for _, name := range faults {
				switch name {
				case "kill":
					f.Kill = true
				case "partition":
					f.Partition = true
				case "blackhole":
					f.BlackHole = true
				case "registry":
					f.Registry = true
				case "disk":
					f.Disk = true
				case "restore":
					f.Restore = true
				default:
					return usagef("--faults: %q is not one of kill, partition, blackhole, registry, disk, restore", name)
				}
			}
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			if dir == "" {
				if dir, err = os.MkdirTemp("", "jiexu-chaos-"); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "chaos run in %s (seed %d; logs and stores stay there)\n", dir, seed)
			r, err := chaos.Run(cmd.Context(), chaos.Options{Binary: bin, Dir: dir, Regions: regions, People: people,
				Duration: duration, DrainTimeout: drain, Seed: seed, Faults: f, Out: out})
			if err != nil {
				return err
			}
			if len(r.Violations) > 0 || !r.Drained {
				return fmt.Errorf("%d violation(s), drained: %v; the run's logs and stores are in %s", len(r.Violations), r.Drained, dir)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&duration, "duration", time.Minute, "how long to inject faults")
	f.DurationVar(&drain, "drain-timeout", 3*time.Minute, "how long to wait, after the faults, for every outbox to empty and every case to end")
	f.StringVar(&dir, "dir", "", "folder for the run, new or empty; kept with its logs and stores (default: a new temporary folder)")
	f.IntVar(&people, "people", 0, "people per node (default: enough for the duration)")
	f.Uint64Var(&seed, "seed", uint64(time.Now().UnixNano()), "seed of the run's choices (the machine's timing still varies)")
	f.StringSliceVar(&faults, "faults", []string{"kill", "partition", "blackhole", "registry", "disk"}, "faults to inject: kill, partition, blackhole, registry, disk, restore")
	f.StringSliceVar(&regions, "regions", nil, "pooling regions, comma-separated (default "+strings.Join(devnet.DefaultRegions, ",")+")")
	completeWords(cmd, "faults", "kill", "partition", "blackhole", "registry", "disk", "restore")
	return cmd
}
