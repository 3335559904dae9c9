// Package faultproxy is a TCP proxy that injects network faults, for tests
// and the chaos harness: put it between a client and a server (point the
// registry's address for a node at the proxy), then switch faults at run
// time.
//
// Faults are per direction (Up: client to server, Down: server to client):
// Pass, Delay (latency), Drop (bytes vanish while set), Hang (bytes stop;
// senders block) and BlackHole (bytes vanish for the rest of the
// connection's life, as when a middlebox forgets a flow: nobody sends a
// reset, and healing the link does not revive the connection). A Reset
// fault closes every connection with a TCP reset and resets new ones, a
// partition that both ends notice at once.
//
// A classifier can label connections by their source so that faults apply
// to one caller only (a partition of one pair of nodes).
//
//	p, _ := faultproxy.New(serverAddr)
//	defer p.Close()
//	// ... clients dial p.Addr() ...
//	p.Set(faultproxy.Both(faultproxy.BlackHole))
//	p.Heal() // new connections pass; the swallowed ones stay dead
//
// Lock order: Proxy.mu only; it is never held while reading or writing a
// connection.
package faultproxy
