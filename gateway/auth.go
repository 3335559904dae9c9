package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"

	"jiexu/certs"
)

// interNodePrefixes are the services whose callers must be registered nodes.
// Health checks and reflection are exempt.
var interNodePrefixes = []string{"/jiexu.v1.TransferService/", "/jiexu.v1.CertificateService/", "/jiexu.v1.RemittanceService/"}

// Authorize checks a caller: a verified chain with a region, not revoked by
// the current snapshot, registered in it and, when the registry pins
// certificate fingerprints for that region, presenting one of them.
func (g *Gateway) Authorize(ctx context.Context) (string, error) {
	region, cert, err := certs.PeerRegion(ctx)
	if err != nil {
		return "", err
	}
	v, err := g.dir.view()
	if err != nil {
		return "", err
	}
	if v.verified.Revoked.Contains(cert) {
		return "", fmt.Errorf("%w: region %s serial %s", certs.ErrRevoked, region, cert.SerialNumber)
	}
	node, err := v.router.Node(region)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrUnregistered, region)
	}
	if fps := node.GetCertificateFingerprints(); len(fps) > 0 && !slices.Contains(fps, certs.Fingerprint(cert)) {
		return "", fmt.Errorf("%w: region %s presented a certificate the registry does not list", ErrUnregistered, region)
	}
	return region, nil
}

// refusalReason is a bounded label for refused callers.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, certs.ErrNoPeerCertificate):
		return "no_certificate"
	case errors.Is(err, certs.ErrNoRegion):
		return "no_region"
	case errors.Is(err, certs.ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrUnregistered):
		return "unregistered"
	case errors.Is(err, ErrNoSnapshot):
		return "no_snapshot"
	}
	return "other"
}

// UnaryServerInterceptor refuses inter-node calls from callers that
// Authorize rejects, with Unauthenticated or PermissionDenied.
func (g *Gateway) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !slices.ContainsFunc(interNodePrefixes, func(p string) bool { return strings.HasPrefix(info.FullMethod, p) }) {
			return handler(ctx, req)
		}
		if _, err := g.Authorize(ctx); err != nil {
			g.metrics.refused.WithLabelValues(refusalReason(err)).Inc()
			g.log.Warn("caller refused", "method", info.FullMethod, "err", err)
			return nil, StatusOf(err)
		}
		return handler(ctx, req)
	}
}
