// Package registry turns any administrative-division code into the node that
// serves it.
//
// It holds three things:
//
//   - Table: the GB/T 2260 division table (embedded; a newer one can be loaded
//     at run time with LoadTableDir), with names, levels, parents, full names
//     and province abbreviations, and the table's quirks handled: the four
//     municipalities without prefecture rows, prefecture-level cities without
//     counties, the "直辖县级行政区划" grouping rows, and 台湾/香港/澳门.
//   - Router: longest-prefix routing over a snapshot's nodes, county →
//     prefecture → province.
//   - Signed snapshots: versioned, expiring directories of nodes carrying the
//     CA's revocation list, sealed by the registry's certificate, and the
//     verifier a node uses before trusting one.
//
// Example:
//
//	t := registry.DefaultTable()
//	snap, _ := registry.VerifySnapshot(signed, roots, heldVersion, time.Now())
//	r, _ := registry.NewRouter(t, snap)
//	node, _ := r.Resolve("150781") // 满洲里, or 呼伦贝尔 150700 when 满洲里 has no node
//
// registry knows nothing of transfers.
package registry
