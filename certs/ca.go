package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultCAName is the subject of the national root.
const DefaultCAName = "国家医疗保障局 jiexu Root CA"

// Role is what a certificate is for.
type Role int

const (
	// RoleNode is a node's certificate, bound to a pooling region.
	RoleNode Role = iota
	// RoleRegistry is the registry's certificate, which signs snapshots.
	RoleRegistry
	// RoleMonitoring is the national Prometheus's client certificate, the
	// only one a node's /metrics over TLS accepts.
	RoleMonitoring
	// RoleOperator is a person's certificate for one node's agency API,
	// issued by that node's own operator CA (client authentication only).
	RoleOperator
)

// CA is the national root: its certificate, key and folder.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	dir  string
	opts options
}

type options struct {
	regionCheck  func(code string) error
	organization string
}

// Option configures a CA.
type Option func(*options)

// WithOrganization sets the subject organization of a new CA's certificate
// (default 国家医疗保障局, the national root); a bureau's operator CA names
// the bureau.
func WithOrganization(org string) Option {
	return func(o *options) { o.organization = org }
}

// WithRegionCheck makes the CA refuse regions for which check returns an error
// (the caller passes the GB/T 2260 table's look-up).
func WithRegionCheck(check func(code string) error) Option {
	return func(o *options) { o.regionCheck = check }
}

func newOptions(opts []Option) options {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// InitCA creates a root CA in dir (ECDSA P-256, ten years). It refuses to
// overwrite an existing CA.
func InitCA(dir, name string, opts ...Option) (*CA, error) {
	o := newOptions(opts)
	if name == "" {
		name = DefaultCAName
	}
	org := o.organization
	if org == "" {
		org = "国家医疗保障局"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{org}, Country: []string{"CN"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return nil, err
	}
	if err := WritePEM(filepath.Join(dir, CACertFile), "CERTIFICATE", der, true); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, Key: key, dir: dir, opts: o}
	if _, err := ca.Revoke(nil); err != nil { // an empty, signed list from the start
		return nil, err
	}
	return ca, nil
}

// LoadCA opens the CA in dir.
func LoadCA(dir string, opts ...Option) (*CA, error) {
	cert, err := LoadCertificate(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("open CA in %s (create one with 'jiexu ca init --dir %s'): %w", dir, dir, err)
	}
	key, err := LoadKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("open CA key: %w", err)
	}
	return &CA{Cert: cert, Key: key, dir: dir, opts: newOptions(opts)}, nil
}

// Signer returns a signer of the CA's own key, for statements only the CA
// may make (the registry announcement); check them with CheckCASeal.
func (ca *CA) Signer() *Signer { return NewSigner(ca.Cert, ca.Key) }

// Revoked returns the CA's current revocation list, checked.
func (ca *CA) Revoked() (*Revoked, error) {
	der, err := LoadCRL(filepath.Join(ca.dir, CRLFile))
	if err != nil {
		return nil, err
	}
	return ParseRevoked(der, ca.Cert)
}

// IssueRequest describes a certificate to issue.
type IssueRequest struct {
	Role   Role
	Region string   // RoleNode only: the pooling-region code
	Name   string   // agency name, the subject's common name
	Hosts  []string // DNS names or IP addresses the node serves on
	// Kind is RoleNode only: KindInsurance or KindNCMS, or empty when the
	// certificate does not say (older certificates).
	Kind string
	// OperatorRole is RoleOperator's role on the node (Region): a label
	// the node interprets, such as "reader", "clerk" or "admin".
	OperatorRole string
	// Validity defaults to one year.
	Validity time.Duration
}

func (ca *CA) template(req IssueRequest) (*x509.Certificate, error) {
	if req.Name == "" {
		return nil, errors.New("name: an agency name is required")
	}
	now := time.Now()
	validity := req.Validity
	if validity == 0 {
		validity = 365 * 24 * time.Hour
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: req.Name, Organization: []string{"jiexu"}, Country: []string{"CN"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	switch req.Role {
	case RoleNode:
		if !isSixDigits(req.Region) {
			return nil, fmt.Errorf("%w: region %q must be 6 digits", ErrBadRegion, req.Region)
		}
		if ca.opts.regionCheck != nil {
			if err := ca.opts.regionCheck(req.Region); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadRegion, err)
			}
		}
		tmpl.URIs = append(tmpl.URIs, RegionURI(req.Region))
		tmpl.Subject.SerialNumber = req.Region
		if req.Kind != "" {
			if err := CheckKind(req.Kind); err != nil {
				return nil, err
			}
			tmpl.Subject.OrganizationalUnit = []string{req.Kind}
		}
	case RoleRegistry:
		tmpl.URIs = append(tmpl.URIs, RegistryURI())
	case RoleMonitoring:
		tmpl.URIs = append(tmpl.URIs, MonitoringURI())
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case RoleOperator:
		if !isSixDigits(req.Region) {
			return nil, fmt.Errorf("%w: region %q must be 6 digits", ErrBadRegion, req.Region)
		}
		if req.OperatorRole == "" || strings.ContainsAny(req.OperatorRole, "/?#") {
			return nil, fmt.Errorf("operator role %q: a plain label such as clerk is required", req.OperatorRole)
		}
		tmpl.URIs = append(tmpl.URIs, OperatorURI(req.Region, req.OperatorRole))
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return nil, fmt.Errorf("unknown role %d", req.Role)
	}
	for _, h := range req.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl, nil
}

// Issue creates a key in outDir and a certificate for it signed by the CA.
// The key is written only to outDir (key.pem, mode 0600), beside cert.pem and
// a copy of ca.pem.
func (ca *CA) Issue(req IssueRequest, outDir string) (*x509.Certificate, error) {
	tmpl, err := ca.template(req)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(outDir, KeyFile), key); err != nil {
		return nil, err
	}
	return ca.sign(tmpl, &key.PublicKey, outDir)
}

func (ca *CA) sign(tmpl *x509.Certificate, pub any, outDir string) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, err
	}
	if err := WritePEM(filepath.Join(outDir, CertFile), "CERTIFICATE", der, false); err != nil {
		return nil, err
	}
	if err := WritePEM(filepath.Join(outDir, CACertFile), "CERTIFICATE", ca.Cert.Raw, false); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// CreateCSR makes a key and a certificate signing request in dir, the path a
// bureau uses so that its key never leaves its own machine. kind
// (KindInsurance or KindNCMS, or empty) is asked for in the request; the CA
// certifies it.
func CreateCSR(dir, region, name, kind string) error {
	if !isSixDigits(region) {
		return fmt.Errorf("%w: region %q must be 6 digits", ErrBadRegion, region)
	}
	if kind != "" {
		if err := CheckKind(kind); err != nil {
			return err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: name, Organization: []string{"jiexu"}, Country: []string{"CN"}, SerialNumber: region},
		URIs:    []*url.URL{RegionURI(region)},
	}
	if kind != "" {
		tmpl.Subject.OrganizationalUnit = []string{kind}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, KeyFile), key); err != nil {
		return err
	}
	return WritePEM(filepath.Join(dir, CSRFile), "CERTIFICATE REQUEST", der, false)
}

// SignCSR issues a node certificate for a CSR made by CreateCSR. The region,
// name and kind come from the CSR; hosts are added by the CA operator. The
// certificate and ca.pem are written to outDir.
func (ca *CA) SignCSR(csrPath string, hosts []string, outDir string) (*x509.Certificate, error) {
	return ca.SignCSRKind(csrPath, hosts, "", outDir)
}

// SignCSRKind is SignCSR with the agency kind the CA certifies: kind must
// agree with the one the request asks for, and may supply it when the
// request names none.
func (ca *CA) SignCSRKind(csrPath string, hosts []string, kind, outDir string) (*x509.Certificate, error) {
	der, err := readPEM(csrPath, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	region, err := regionOf(csr.URIs)
	if err != nil {
		return nil, fmt.Errorf("CSR %s: %w", csrPath, err)
	}
	asked := kindOf(csr.Subject.OrganizationalUnit)
	switch {
	case kind == "":
		kind = asked
	case asked != "" && asked != kind:
		return nil, fmt.Errorf("%w: the request %s asks for kind %q, not %q: check with the agency which it is", ErrBadKind, csrPath, asked, kind)
	}
	tmpl, err := ca.template(IssueRequest{Role: RoleNode, Region: region, Name: csr.Subject.CommonName, Hosts: hosts, Kind: kind})
	if err != nil {
		return nil, err
	}
	return ca.sign(tmpl, csr.PublicKey, outDir)
}

// revocation is the CA's record of revoked serials.
type revocation struct {
	Number  int64           `json:"number"`
	Revoked []revokedSerial `json:"revoked"`
}

type revokedSerial struct {
	Serial string    `json:"serial"`
	At     time.Time `json:"at"`
}

// Revoke adds serials to the revocation list and writes a newly signed CRL
// (crl.pem) valid for 30 days. It returns the CRL's DER.
func (ca *CA) Revoke(serials []*big.Int) ([]byte, error) {
	var rev revocation
	path := filepath.Join(ca.dir, revokedFile)
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &rev); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	now := time.Now()
	for _, s := range serials {
		str := s.String()
		if !slices.ContainsFunc(rev.Revoked, func(r revokedSerial) bool { return r.Serial == str }) {
			rev.Revoked = append(rev.Revoked, revokedSerial{Serial: str, At: now})
		}
	}
	rev.Number++
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(rev.Number),
		ThisUpdate: now,
		NextUpdate: now.AddDate(0, 0, 30),
	}
	for _, r := range rev.Revoked {
		n, ok := new(big.Int).SetString(r.Serial, 10)
		if !ok {
			return nil, fmt.Errorf("%s: bad serial %q", path, r.Serial)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: r.At})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(rev, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	if err := WritePEM(filepath.Join(ca.dir, CRLFile), "X509 CRL", der, false); err != nil {
		return nil, err
	}
	return der, nil
}

// LoadCRL reads a CRL written by Revoke.
func LoadCRL(path string) ([]byte, error) {
	return readPEM(path, "X509 CRL")
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}
