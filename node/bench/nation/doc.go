// Package nation simulates the whole country on one machine: every pooling
// region (bench.PoolingRegions: each prefecture-level place, the four
// municipalities, the county-level cities their province administers, and
// 满洲里 and 二连浩特) runs as a node in this process, on node/devnet's
// in-process network, and a national mix of transfers (Model: two in three
// within a province, the rest drawn to the big cities) moves between them.
// Run reports how long the cases took, what a node costs in memory, file
// descriptors and goroutines, and which nodes finished last and why.
//
//	o := nation.NewOptions()
//	o.Cases = 10_000
//	res, err := nation.Run(ctx, o)
//	if err == nil {
//		res.WriteText(os.Stdout)
//	}
//
// The links between nodes run in memory by default (net.Pipe under the
// nodes' real mutual TLS and gRPC), because one process cannot hold a
// socket for each end of every link: Options.TCP uses loopback TCP instead.
package nation
