package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
)

const (
	// uriScheme and uriHost form every identity URI: spiffe://jiexu/...
	uriScheme = "spiffe"
	uriHost   = "jiexu"
	// regionPathPrefix precedes the region code in a node's URI SAN.
	regionPathPrefix = "/region/"
	// registryPath is the URI SAN path of the registry's certificate.
	registryPath = "/registry"
	// monitoringPath is the URI SAN path of the national Prometheus's
	// client certificate.
	monitoringPath = "/monitoring"
	// operatorPathPrefix precedes region/role in an operator's URI SAN.
	operatorPathPrefix = "/operator/"
)

// RegionURI returns the URI SAN that binds a certificate to a pooling region.
func RegionURI(region string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: regionPathPrefix + region}
}

// RegistryURI returns the URI SAN of the registry's signing certificate.
func RegistryURI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: registryPath}
}

// MonitoringURI returns the URI SAN of the national Prometheus's client
// certificate.
func MonitoringURI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: monitoringPath}
}

// IsMonitoring reports whether a certificate carries the monitoring role.
func IsMonitoring(cert *x509.Certificate) bool {
	for _, u := range cert.URIs {
		if u.Scheme == uriScheme && u.Host == uriHost && u.Path == monitoringPath {
			return true
		}
	}
	return false
}

// RegionOf returns the pooling region a certificate is bound to.
func RegionOf(cert *x509.Certificate) (string, error) { return regionOf(cert.URIs) }

// regionOf finds the region URI among a certificate's or a request's URIs.
func regionOf(uris []*url.URL) (string, error) {
	for _, u := range uris {
		if u.Scheme != uriScheme || u.Host != uriHost || !strings.HasPrefix(u.Path, regionPathPrefix) {
			continue
		}
		code := strings.TrimPrefix(u.Path, regionPathPrefix)
		if !isSixDigits(code) {
			return "", fmt.Errorf("%w: malformed region %q in %s", ErrNoRegion, code, u)
		}
		return code, nil
	}
	return "", ErrNoRegion
}

// OperatorURI returns the URI SAN of an operator certificate: the region of
// the node it opens and the operator's role there.
func OperatorURI(region, role string) *url.URL {
	return &url.URL{Scheme: uriScheme, Host: uriHost, Path: operatorPathPrefix + region + "/" + role}
}

// OperatorOf returns the region and role an operator certificate names.
func OperatorOf(cert *x509.Certificate) (region, role string, err error) {
	for _, u := range cert.URIs {
		if u.Scheme != uriScheme || u.Host != uriHost || !strings.HasPrefix(u.Path, operatorPathPrefix) {
			continue
		}
		region, role, ok := strings.Cut(strings.TrimPrefix(u.Path, operatorPathPrefix), "/")
		if !ok || !isSixDigits(region) || role == "" || strings.Contains(role, "/") {
			return "", "", fmt.Errorf("%w: malformed operator URI %s", ErrNotOperator, u)
		}
		return region, role, nil
	}
	return "", "", ErrNotOperator
}

// IsRegistry reports whether a certificate carries the registry role.
func IsRegistry(cert *x509.Certificate) bool {
	for _, u := range cert.URIs {
		if u.Scheme == uriScheme && u.Host == uriHost && u.Path == registryPath {
			return true
		}
	}
	return false
}

// Fingerprint returns the lower-case hex SHA-256 of a certificate's DER.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

func isSixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
