package node

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// DialOption configures DialAgency.
type DialOption func(*dialOptions)

type dialOptions struct {
	operatorDir string
	grpc        []grpc.DialOption
}

// WithOperator dials agency_tls_listen as the operator whose folder (from
// 'jiexu operator issue') holds key.pem, cert.pem and server-ca.pem.
func WithOperator(dir string) DialOption { return func(o *dialOptions) { o.operatorDir = dir } }

// WithGRPCOptions adds gRPC dial options.
func WithGRPCOptions(opts ...grpc.DialOption) DialOption {
	return func(o *dialOptions) { o.grpc = append(o.grpc, opts...) }
}

// DialAgency connects to a node's agency API: "unix:PATH" (the node's own
// socket; the kernel vouches for the caller, who must be the node's user),
// or the host:port of agency_tls_listen with an operator certificate
// (WithOperator), checking that the node presents its national certificate
// for the operator's region.
func DialAgency(addr string, opts ...DialOption) (jiexuv1.AgencyServiceClient, *grpc.ClientConn, error) {
	var o dialOptions
	for _, fn := range opts {
		fn(&o)
	}
	target, creds := addr, insecure.NewCredentials()
	if !strings.HasPrefix(addr, "unix:") {
		if o.operatorDir == "" {
			return nil, nil, fmt.Errorf("agency address %s is TCP: it needs an operator certificate (--operator DIR, from 'jiexu operator issue'), or use the node's unix socket", addr)
		}
		cfg, err := OperatorClientTLS(o.operatorDir)
		if err != nil {
			return nil, nil, err
		}
		target, creds = "passthrough:///"+addr, credentials.NewTLS(cfg)
	}
	// Keepalive matters for long calls (a backup streams for minutes): a
	// node that died mid-call is noticed within 40s.
	dial := []grpc.DialOption{grpc.WithTransportCredentials(creds),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second})}
	conn, err := grpc.NewClient(target, append(dial, o.grpc...)...)
	if err != nil {
		return nil, nil, err
	}
	return jiexuv1.NewAgencyServiceClient(conn), conn, nil
}

// OperatorClientTLS is an operator's TLS configuration from its folder:
// its certificate to the node, and the node's certificate checked against
// the national CA and the region the operator certificate names.
func OperatorClientTLS(dir string) (*tls.Config, error) {
	kp, err := certs.LoadKeyPair(filepath.Join(dir, certs.CertFile), filepath.Join(dir, certs.KeyFile))
	if err != nil {
		return nil, fmt.Errorf("operator folder %s: %w", dir, err)
	}
	region, _, err := certs.OperatorOf(kp.Leaf())
	if err != nil {
		return nil, fmt.Errorf("operator folder %s: %w", dir, err)
	}
	roots, err := certs.LoadPool(filepath.Join(dir, ServerCAFile))
	if err != nil {
		return nil, fmt.Errorf("operator folder %s: %w", dir, err)
	}
	return certs.ClientTLS(kp, roots, region), nil
}
