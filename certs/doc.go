// Package certs is jiexu's public-key infrastructure: the national root CA,
// node certificates bound to a pooling region, the revocation list, seals
// (signatures over messages and documents), reloadable mutual-TLS
// configurations, and the pooling region of a peer taken from its verified
// chain.
//
// A node certificate carries its region as a URI SAN:
//
//	spiffe://jiexu/region/150100
//
// and the registry's signing certificate carries spiffe://jiexu/registry.
//
// Typical use on a node:
//
//	kp, _ := certs.LoadKeyPair(certFile, keyFile) // reloadable on SIGHUP
//	roots, _ := certs.LoadPool(caFile)
//	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.ServerTLS(kp, roots))))
//	...
//	region, err := certs.PeerRegion(ctx) // in a handler or interceptor
//
// certs knows nothing of nodes or transfers; the caller checks that a region
// code is a real division code (see WithRegionCheck).
package certs
