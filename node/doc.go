// Package node is an agency's business on the jiexu network: enrolment
// records, the transfer case on both sides, the certificate (参保(合)凭证),
// personal-account remittance, and the services that expose them.
//
// A Node owns one bbolt store shared with its gateway, so that every state
// change and the messages it causes commit in one transaction; node/store
// checks the file before it is opened, keeps its identity and reserved
// counters in a sidecar, and restores backups (Restore). The
// destination opens a case (ApplyTransfer) and notifies the origin; the
// origin suspends the enrolment, issues and seals the certificate and remits
// the balance; the destination verifies, credits and completes. Either side
// may receive the application (2021 rule). Cases only move forward by rank,
// so messages may arrive in any order and any number of times.
//
// Run a node from its config file:
//
//	cfg, err := node.LoadConfig("node.json")
//	n, err := node.New(cfg, node.WithLogger(cfg.NewLogger(os.Stderr)))
//	err = n.Run(ctx) // until ctx ends; SIGHUP reloads the certificate
//
// and talk to it with DialAgency: its unix socket as the node's own user, or
// agency_tls_listen with an operator certificate from the node's own
// operator CA, whose role (operators.go has the method → role table)
// decides what it may call. The pure rules (ID numbers, amounts in
// words, certificate numbers, the calendar, waiting periods) live in
// node/rules; how cases and certificates are shown lives in node/render.
//
// Lock order: Node.mu guards only the bound addresses and is never held
// across a transaction; the gateway's locks are documented there.
package node
