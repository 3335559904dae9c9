// Package devnet writes and runs a local jiexu network on loopback: a CA, a
// registry, one node per pooling region (at least one of them an NCMS
// office) with certificates, configs and synthetic enrolment records. Demo
// runs a batch of real transfers through it and reports.
//
//	layout, _ := devnet.Init(devnet.Options{Dir: "net", Regions: []string{"150100", "150700", "150781", "110000"}})
//	// then: jiexu registry serve --dir net/registry …; jiexu node serve --config net/nodes/150100/node.json …
package devnet
