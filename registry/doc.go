// Package registry turns any administrative-division code — in force or
// abolished since 1981 — into the node that serves it.
//
// It holds three things:
//
//   - Table: the GB/T 2260 division table, in two files (embedded; a newer
//     edition loads at run time with LoadTableDir): the places in force
//     (mca-2024.txt: names, levels, parents, full names, province
//     abbreviations and the names certificate numbers carry, unique in each
//     province) and the history of every code since 1981 (history.csv: each
//     code's periods, status and successors, so that Fate follows a former
//     code to the codes in force now and IssuedAt says where an ID number was
//     issued). The table's quirks are handled: municipalities and
//     province-administered county-level cities without prefecture rows,
//     prefectures without counties, grouping rows of older tables that are no
//     places (429000, 500100), codes reused for another place, names that
//     repeat.
//   - Router: longest-prefix routing over a snapshot's nodes, county →
//     prefecture → province, through change: a former code goes where its
//     successors go, a code split between nodes needs the registry's
//     decision, and a node's former regions are that node. Route says how it
//     resolved ("330103 (abolished 2021) → 330105 → node 330100").
//   - Signed snapshots: versioned, expiring directories of nodes carrying the
//     CA's revocation list and the division table the registry checked them
//     with, sealed by the registry's certificate, and the verifier a node
//     uses before trusting one, against what it already holds (version, CRL
//     number, revoked signers).
//   - Announcements: the CA's own statement naming the registry certificate
//     nodes trust from an epoch on, the recovery from a stolen registry key.
//
// Example:
//
//	t := registry.DefaultTable()
//	v, _ := registry.VerifySnapshot(signed, caCert, held, time.Now()) // held: the last Verified, or nil
//	r, _ := registry.SnapshotRouter(t, v.Snapshot)
//	rt, _ := r.Route("330103") // 330103 (abolished 2021) → 330105 → node 330100
//	_ = registry.Describe(os.Stdout, t, "412723")
//
// registry knows nothing of transfers.
package registry
