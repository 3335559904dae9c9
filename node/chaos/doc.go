// Package chaos is the fault-injection harness of the jiexu network: it runs
// a network of separate jiexu node processes with a fault proxy
// (gateway/faultproxy) in front of each node, moves people between the
// nodes, and meanwhile
//
//   - SIGKILLs a random node at a random instant and restarts it,
//   - partitions every pair of nodes in turn, alternately with connection
//     resets and with black holes (packets vanish, connections in use stay
//     dead after the heal); the proxies tell callers apart by the process
//     that opened the connection (/proc), so one pair is cut and not the rest,
//   - takes the registry down and brings it back,
//   - fills a node's disk: a small tmpfs per node where mount(2) is
//     permitted, else RLIMIT_FSIZE on the node process (see DiskTmpfs,
//     DiskRlimit),
//   - optionally (Faults.Restore) backs every node up a fifth of the way
//     in and restores each once, mid-run, from that old backup with
//     'jiexu node restore' (rolled forward from the peers), then enters
//     again the records the restore lost, as an operator would.
//
// Then it heals everything, waits for every outbox to empty and every case
// to end, stops the nodes, and a Checker proves the invariants from every
// node's store (Invariants: each case ends once on each side, money is
// conserved per person and in total, serials have no gap and no repeat,
// outboxes are empty or dead letters say why).
//
//	report, err := chaos.Run(ctx, chaos.Options{Binary: "./jiexu", Dir: dir,
//		Duration: 10 * time.Minute, Faults: chaos.AllFaults(), Out: os.Stdout})
//
// 'jiexu chaos --duration 10m' runs it from the command line; the package's
// test runs a short one.
//
// Lock order: harness.mu, then process.mu or callers.mu; none is held
// across a call to a node.
package chaos
