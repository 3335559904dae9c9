package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"

	"jiexu/certs"
)

// interNodePrefixes are the services whose callers must be registered nodes.
// Health checks and reflection need only a certificate the snapshot does
// not revoke.
var interNodePrefixes = []string{"/jiexu.v1.TransferService/", "/jiexu.v1.CertificateService/", "/jiexu.v1.RemittanceService/", "/jiexu.v1.ReconcileService/"}

// Authorize checks a caller: a verified chain with a region, not revoked by
// the current snapshot, registered in it and, when the registry pins
// certificate fingerprints for that region, presenting one of them. A caller
// the snapshot does not know (a node that has just joined, or renewed its
// certificate) makes the node refresh its snapshot at once and check again.
func (g *Gateway) Authorize(ctx context.Context) (string, error) {
	region, err := g.authorize(ctx)
	if errors.Is(err, ErrUnregistered) && g.RefreshNow(ctx) {
		region, err = g.authorize(ctx)
	}
	return region, err
}

func (g *Gateway) authorize(ctx context.Context) (string, error) {
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
	if err := v.listed(region, cert); err != nil {
		return "", err
	}
	return region, nil
}

// refusalReasons are the values of the reason label of
// jiexu_peers_refused_total, each counted from 0.
var refusalReasons = []string{"no_certificate", "no_region", "revoked", "certificate_not_listed", "unregistered", "no_snapshot", "other"}

// listed checks that region has a node in the snapshot and, when the
// registry pins certificate fingerprints for it, that cert is one of them.
func (v *view) listed(region string, cert *x509.Certificate) error {
	node, err := v.router.Node(region)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrUnregistered, region)
	}
	if fps := node.GetCertificateFingerprints(); len(fps) > 0 && !slices.Contains(fps, certs.Fingerprint(cert)) {
		return fmt.Errorf("%w: region %s: certificate serial %s (fingerprint %.16s…) is not one the registry lists. "+
			"After a renewal the national level must list the new certificate: "+
			"'jiexu registry add --dir REGISTRY --cert NEW.pem --cert OLD.pem --address …' then 'jiexu registry sign …'",
			ErrCertificateNotListed, region, cert.SerialNumber, certs.Fingerprint(cert))
	}
	return nil
}

// CheckSealer checks the certificate that sealed a document (a delivered
// certificate, say) against the current snapshot: its region has a node,
// the registry lists the certificate when it pins fingerprints, and the
// snapshot's revocation list does not revoke it.
func (d *Directory) CheckSealer(cert *x509.Certificate) error {
	v, err := d.view()
	if err != nil {
		return err
	}
	region, err := certs.RegionOf(cert)
	if err != nil {
		return err
	}
	if v.verified.Revoked.Contains(cert) {
		return fmt.Errorf("%w: region %s serial %s", certs.ErrRevoked, region, cert.SerialNumber)
	}
	return v.listed(region, cert)
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
	case errors.Is(err, ErrCertificateNotListed):
		return "certificate_not_listed"
	case errors.Is(err, ErrUnregistered):
		return "unregistered"
	case errors.Is(err, ErrNoSnapshot):
		return "no_snapshot"
	}
	return "other"
}

// checkCaller lets a call through the inter-node listener: a business call
// from a caller Authorize accepts; anything else (health, reflection) from
// any caller the current snapshot does not revoke.
func (g *Gateway) checkCaller(ctx context.Context, method string) error {
	var err error
	if slices.ContainsFunc(interNodePrefixes, func(p string) bool { return strings.HasPrefix(method, p) }) {
		_, err = g.Authorize(ctx)
	} else {
		var cert *x509.Certificate
		if cert, err = certs.PeerCertificate(ctx); err == nil {
			if v := g.dir.current.Load(); v != nil && v.verified.Revoked.Contains(cert) {
				err = fmt.Errorf("%w: serial %s", certs.ErrRevoked, cert.SerialNumber)
			}
		}
	}
	if err != nil {
		g.metrics.refused.WithLabelValues(refusalReason(err)).Inc()
		g.log.Warn("caller refused", "method", method, "err", err)
		return StatusOf(err)
	}
	return nil
}

// UnaryServerInterceptor refuses calls from callers that checkCaller
// rejects, with Unauthenticated or PermissionDenied.
func (g *Gateway) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := g.checkCaller(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor does the same for streams (a health watch,
// reflection).
func (g *Gateway) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := g.checkCaller(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}
