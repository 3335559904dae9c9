package node

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"jiexu/certs"
	"jiexu/node/rules"
)

// The system layout, used by the packages and their systemd units: the
// config, certificate and key in /etc/jiexu (read-only to the service), the
// store in /var/lib/jiexu, the agency socket in /run/jiexu.
const (
	SystemConfigDir    = "/etc/jiexu"
	SystemDataDir      = "/var/lib/jiexu"
	SystemAgencyListen = "unix:/run/jiexu/agency.sock"
	// SystemGroup is the group the node's service runs as; the key and the
	// config are made readable to it.
	SystemGroup = "jiexu"
)

// ConfigFile is the config's file name in a node's folder.
const ConfigFile = "node.json"

// ErrJoin is returned when 'jiexu node init' cannot proceed as asked.
var ErrJoin = errors.New("node init")

// JoinOptions say how 'jiexu node init --bundle' writes a node's files.
// Empty fields take the layout's defaults.
type JoinOptions struct {
	// Dir holds key.pem and csr.pem from the request; cert.pem, ca.pem and
	// node.json are written beside them.
	Dir string
	// Bundle is the file 'jiexu ca sign' wrote.
	Bundle string
	// Kind is used when the certificate names no kind (older CAs).
	Kind string
	// RegistryAddress overrides the bundle's.
	RegistryAddress string
	// DataDir, Listen, MetricsListen and AgencyListen override the layout's.
	DataDir, Listen, MetricsListen, AgencyListen string
	// Contact is printed on certificates.
	Contact Contact
	// Force rewrites an existing node.json.
	Force bool
	// Now is the clock (tests).
	Now func() time.Time
}

// Joined is what InstallBundle did.
type Joined struct {
	Config     Config
	ConfigFile string
	// ConfigKept is set when an existing node.json was kept.
	ConfigKept bool
	// Cert and CA are the installed certificates.
	Cert, CA *x509.Certificate
}

// IsSystemDir reports whether dir is under /etc, where the service cannot
// write: the store and the socket then go to /var/lib/jiexu and /run/jiexu.
func IsSystemDir(dir string) bool {
	abs, err := filepath.Abs(dir)
	return err == nil && (abs == "/etc" || strings.HasPrefix(abs, "/etc/"))
}

// InstallBundle installs a signed bundle beside the key that asked for it
// and writes a complete, commented node.json from what the certificate
// says: region, agency name and kind, with the registry address from the
// bundle.
func InstallBundle(opts JoinOptions) (*Joined, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b, err := certs.LoadBundle(opts.Bundle)
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(opts.Dir, certs.KeyFile)
	key, err := certs.LoadKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (run 'jiexu node init --region … --name … --kind …' in this folder first: the bundle must answer its request)", ErrJoin, keyFile, err)
	}
	if pub, ok := b.Cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%w: the certificate in %s is not for the key in %s: was the request made in another folder, or is the bundle another agency's?", ErrJoin, opts.Bundle, keyFile)
	}
	region, _ := certs.RegionOf(b.Cert)
	kind := certs.KindOf(b.Cert)
	switch {
	case kind == "" && opts.Kind == "":
		return nil, fmt.Errorf("%w: the certificate names no agency kind: give --kind insurance or --kind ncms", ErrJoin)
	case kind == "":
		if err := certs.CheckKind(opts.Kind); err != nil {
			return nil, fmt.Errorf("%w: --kind: %v", ErrJoin, err)
		}
		kind = opts.Kind
	case opts.Kind != "" && opts.Kind != kind:
		return nil, fmt.Errorf("%w: --kind %s, but the certificate says %s: leave --kind out", ErrJoin, opts.Kind, kind)
	}
	if now := opts.Now(); now.After(b.Cert.NotAfter) {
		return nil, fmt.Errorf("%w: the certificate in %s expired on %s: ask the national CA for a new one", ErrJoin, opts.Bundle, b.Cert.NotAfter.Format(time.DateOnly))
	}

	cfg := NewConfig()
	cfg.Region, cfg.AgencyName, cfg.Kind, cfg.Contact = region, b.Cert.Subject.CommonName, kind, opts.Contact
	cfg.Listen, cfg.MetricsListen = "0.0.0.0:7443", "0.0.0.0:9443"
	if IsSystemDir(opts.Dir) {
		cfg.DataDir, cfg.AgencyListen = SystemDataDir, SystemAgencyListen
	}
	for _, o := range []struct{ dst, v *string }{
		{&cfg.DataDir, &opts.DataDir}, {&cfg.Listen, &opts.Listen}, {&cfg.MetricsListen, &opts.MetricsListen}, {&cfg.AgencyListen, &opts.AgencyListen},
	} {
		if *o.v != "" {
			*o.dst = *o.v
		}
	}
	cfg.RegistryAddress = b.RegistryAddress
	if opts.RegistryAddress != "" {
		cfg.RegistryAddress = opts.RegistryAddress
	}
	if cfg.RegistryAddress == "" {
		return nil, fmt.Errorf("%w: the bundle names no registry: give --registry HOST:PORT (ask the national level for it)", ErrJoin)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJoin, err)
	}

	if err := certs.WritePEM(filepath.Join(opts.Dir, certs.CertFile), "CERTIFICATE", b.Cert.Raw, false); err != nil {
		return nil, err
	}
	if err := certs.WritePEM(filepath.Join(opts.Dir, certs.CACertFile), "CERTIFICATE", b.CA.Raw, false); err != nil {
		return nil, err
	}
	j := &Joined{Config: cfg, ConfigFile: filepath.Join(opts.Dir, ConfigFile), Cert: b.Cert, CA: b.CA}
	if _, err := os.Stat(j.ConfigFile); err == nil && !opts.Force {
		j.ConfigKept = true
		if j.Config, err = LoadConfig(j.ConfigFile); err != nil {
			return nil, fmt.Errorf("%w: kept %s, but: %v (fix it, or pass --force to write it anew)", ErrJoin, j.ConfigFile, err)
		}
	} else {
		header := fmt.Sprintf("jiexu node configuration for %s %s, written by 'jiexu node init' on %s\n"+
			"from the certificate in cert.pem. JSON with // comments; relative paths are\n"+
			"resolved against this file's folder. Restart the node after a change.",
			cfg.Region, cfg.AgencyName, opts.Now().In(rules.CST).Format(time.DateOnly))
		if err := WriteCommentedConfig(j.ConfigFile, cfg, header); err != nil {
			return nil, err
		}
	}
	if IsSystemDir(opts.Dir) {
		if err := shareWithGroup(SystemGroup, keyFile, j.ConfigFile); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// shareWithGroup makes files readable by a group (owner root), when this
// process may do so and the group exists: the node's service runs as that
// group and must read its key and config, which 'jiexu node init' wrote as
// root.
func shareWithGroup(group string, paths ...string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return nil // no such group: a machine without the package
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, 0, gid); err != nil {
			return err
		}
		if err := os.Chmod(p, fs.FileMode(0o640)); err != nil {
			return err
		}
	}
	return nil
}

// CheckCertificate checks that the config agrees with the node certificate
// on the agency's name and kind, and says how to fix it when not.
func (c *Config) CheckCertificate(cert *x509.Certificate) error {
	if cn := cert.Subject.CommonName; cn != c.AgencyName {
		return fmt.Errorf("agency_name: %q, but the node certificate (%s) is for %q: set agency_name to %q, or get a certificate for the new name ('jiexu node init')",
			c.AgencyName, c.CertFile, cn, cn)
	}
	if k := certs.KindOf(cert); k != "" && k != c.Kind {
		return fmt.Errorf("kind: %q, but the node certificate (%s) is for an agency of kind %q: set \"kind\": %q", c.Kind, c.CertFile, k, k)
	}
	return nil
}
