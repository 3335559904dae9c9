// Package gateway is the transport between nodes. It knows nothing of
// transfers: it moves sealed gRPC requests from one node's store to
// another's, exactly once in effect, whatever fails in between.
//
//   - Outbox: Enqueue(tx, peer, method, msg) stamps the message's header,
//     seals it and stores it in the caller's bbolt transaction, so a business
//     change and the messages it causes commit together or not at all. With
//     Config.BatchSeals the messages of one group commit share a signature
//     over their Merkle root, each carrying its proof (certs.SealBatch), and
//     each still checks alone.
//   - Dispatcher: one goroutine per peer region sends due messages in order
//     of creation (a window of them at a time), group-commits the
//     acknowledgements in one transaction, and on failure applies the
//     delivery policy (policy.go): back off exponentially with jitter, or
//     make the message a dead letter with its reason, at once or after a
//     grace period, depending on the status code; an operator can re-drive
//     dead letters. A connection on which calls keep timing out with no
//     success is replaced; an acknowledgement the business side cannot
//     apply makes that one message a dead letter and the rest go on.
//   - Keepalive: clients ping (ClientKeepalive) and servers permit and send
//     pings (ServerOptions), so a link that swallows packets is noticed.
//   - Inbox: Receive checks the caller's certificate region, the header and
//     the seal, then records (sender, message id) in the same transaction as
//     the business effect. A duplicate is acknowledged and not applied again.
//   - Directory: the registry snapshot, verified, kept in the store and
//     refreshed periodically; the node routes from the last good one while
//     the registry is unreachable, by the division table the snapshot
//     carries (Table), and treats a node's former regions as that node
//     (Canonical, SameRegion): a region whose code changed keeps its queues.
//   - Auth: interceptors that take the caller's region from its verified
//     chain and refuse unknown, unregistered, unlisted or revoked peers
//     (health and reflection: revoked ones), and a message sealed by a
//     certificate the registry does not list for its region.
//   - Receipts: the receiver seals each receipt over the digest of the
//     message; the sender verifies it before the message leaves its outbox.
//   - Group commit: Update(fn) runs fn in a read-write transaction shared
//     with concurrent callers (the inbox, acknowledgements and the node's
//     agency requests), one commit and its fsyncs for all; fn may run more
//     than once, as with bolt.DB.Batch, but no timer delays a lone call.
//   - Audit: Audit().Append(tx, entry) hash-chains every message in and
//     out, every receipt and every case transition (the node calls it) in
//     the transaction of the effect, with sealed checkpoints; VerifyAudit
//     finds any edit, ExportCase/VerifyExport give one case's evidence.
//
// Example:
//
//	gw, _ := gateway.New(gateway.Config{Region: "150100", DB: db, ...})
//	gw.Update(func(tx *bolt.Tx) error { // or db.Update: a commit of its own
//		// ... business change ...
//		return gw.Enqueue(tx, "150700", jiexuv1.TransferService_NotifyTransfer_FullMethodName, req)
//	})
//
// Lock order: Gateway.mu (dispatcher map) before dispatcher.mu; neither is
// held across a bbolt transaction or an RPC. Committer.mu is a leaf, never
// held across a transaction (OnCommit hooks may take Gateway.mu);
// Gateway.batchMu is a leaf too.
package gateway
