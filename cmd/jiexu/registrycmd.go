package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

func runRegistryInit(_ context.Context, args []string) error {
	fs := flagSet("registry init")
	dir := fs.String("dir", "", "registry folder")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	if err := registry.InitDir(*dir); err != nil {
		return err
	}
	fmt.Printf("created %s\n", filepath.Join(*dir, registry.DirectoryFile))
	return nil
}

func runRegistryAdd(_ context.Context, args []string) error {
	fs := flagSet("registry add")
	dir := fs.String("dir", "", "registry folder")
	region := fs.String("region", "", "the node's pooling-region code")
	name := fs.String("name", "", "agency name")
	addr := fs.String("address", "", "host:port of the node's inter-node listener")
	metrics := fs.String("metrics", "", "host:port of the node's /metrics listener")
	kind := fs.String("kind", "insurance", "insurance or ncms")
	var certFiles listFlag
	fs.Var(&certFiles, "cert", "the node's cert.pem: pins its fingerprint and checks its region (repeat during a rotation: old and new)")
	var serves listFlag
	fs.Var(&serves, "serves", "further division codes the node serves (comma-separated)")
	contact := &jiexuv1.Contact{}
	fs.StringVar(&contact.Address, "contact-address", "", "address printed on certificates")
	fs.StringVar(&contact.Postcode, "contact-postcode", "", "postcode printed on certificates")
	fs.StringVar(&contact.Phone, "contact-phone", "", "phone printed on certificates")
	fs.StringVar(&contact.ContactPerson, "contact-person", "", "contact person printed on certificates")
	table := tableFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir", "region", "name", "address"); err != nil {
		return err
	}
	n := &jiexuv1.Node{Region: *region, AgencyName: *name, Address: *addr, MetricsAddress: *metrics, Serves: serves, Contact: contact}
	switch *kind {
	case "insurance":
		n.Kind = jiexuv1.AgencyKind_AGENCY_KIND_INSURANCE
	case "ncms":
		n.Kind = jiexuv1.AgencyKind_AGENCY_KIND_NCMS
	default:
		return fmt.Errorf("--kind %q must be insurance or ncms", *kind)
	}
	for _, f := range certFiles {
		c, err := certs.LoadCertificate(f)
		if err != nil {
			return err
		}
		if r, err := certs.RegionOf(c); err != nil || r != *region {
			return fmt.Errorf("--cert %s is for region %q, not %s", f, r, *region)
		}
		n.CertificateFingerprints = append(n.CertificateFingerprints, certs.Fingerprint(c))
	}
	t, err := table()
	if err != nil {
		return err
	}
	if err := registry.AddNode(*dir, t, n); err != nil {
		return err
	}
	fmt.Printf("added %s %s at %s; run 'jiexu registry sign' to publish\n", *region, *name, *addr)
	return nil
}

func runRegistryRemove(_ context.Context, args []string) error {
	fs := flagSet("registry remove")
	dir := fs.String("dir", "", "registry folder")
	region := fs.String("region", "", "region to remove")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir", "region"); err != nil {
		return err
	}
	if err := registry.RemoveNode(*dir, *region); err != nil {
		return err
	}
	fmt.Printf("removed %s; run 'jiexu registry sign' to publish\n", *region)
	return nil
}

func runRegistrySign(_ context.Context, args []string) error {
	fs := flagSet("registry sign")
	dir := fs.String("dir", "", "registry folder")
	caDir := fs.String("ca", "", "the CA folder (for its current revocation list)")
	tls := fs.String("tls", "", "folder with the registry's cert.pem and key.pem (jiexu ca issue --registry)")
	ttl := fs.Duration("ttl", 30*24*time.Hour, "how long nodes may use the snapshot")
	table := tableFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir", "ca", "tls"); err != nil {
		return err
	}
	kp, err := certs.LoadKeyPair(filepath.Join(*tls, certs.CertFile), filepath.Join(*tls, certs.KeyFile))
	if err != nil {
		return err
	}
	crl, err := certs.LoadCRL(filepath.Join(*caDir, certs.CRLFile))
	if err != nil {
		return err
	}
	t, err := table()
	if err != nil {
		return err
	}
	signed, err := registry.SignDirectory(*dir, t, kp.Signer(), crl, *ttl, time.Now())
	if err != nil {
		return err
	}
	var snap jiexuv1.Snapshot
	if err := proto.Unmarshal(signed.GetSnapshot(), &snap); err != nil {
		return err
	}
	fmt.Printf("signed snapshot version %d: %d nodes, %d bytes, expires %s\n", snap.GetVersion(), len(snap.GetNodes()),
		len(signed.GetSnapshot()), snap.GetExpiresAt().AsTime().Format(time.RFC3339))
	return nil
}

// loadVerified reads and verifies a registry folder's signed snapshot; it
// uses ca.pem beside the registry's certificate in DIR/tls or --ca-file.
func loadVerified(dir, caFile string) (*registry.Verified, error) {
	signed, err := registry.LoadSigned(filepath.Join(dir, registry.SnapshotFile))
	if err != nil {
		return nil, fmt.Errorf("%w (run 'jiexu registry sign' first)", err)
	}
	if caFile == "" {
		caFile = filepath.Join(dir, "tls", certs.CACertFile)
	}
	ca, err := certs.LoadCertificate(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w (give it with --ca-file)", err)
	}
	return registry.VerifySnapshot(signed, ca, 0, time.Now())
}

func runRegistryShow(_ context.Context, args []string) error {
	fs := flagSet("registry show")
	dir := fs.String("dir", "", "registry folder")
	caFile := fs.String("ca-file", "", "CA certificate to verify against (default DIR/tls/ca.pem)")
	table := tableFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	v, err := loadVerified(*dir, *caFile)
	if err != nil {
		return err
	}
	t, err := table()
	if err != nil {
		return err
	}
	s := v.Snapshot
	fmt.Printf("snapshot version %d (signature verified), issued %s, expires %s, %d revoked serial(s)\n",
		s.GetVersion(), s.GetIssuedAt().AsTime().Format(time.RFC3339), s.GetExpiresAt().AsTime().Format(time.RFC3339), v.Revoked.Len())
	for _, n := range s.GetNodes() {
		full, _ := t.FullName(n.GetRegion())
		fmt.Printf("  %s  %-9s %-21s %s (%s)", n.GetRegion(), registry.KindLabel(n.GetKind()), n.GetAddress(), n.GetAgencyName(), full)
		if len(n.GetServes()) > 0 {
			fmt.Printf(" serves %s", strings.Join(n.GetServes(), ","))
		}
		fmt.Println()
	}
	return nil
}

func runRegistryResolve(_ context.Context, args []string) error {
	fs := flagSet("registry resolve")
	dir := fs.String("dir", "", "registry folder")
	caFile := fs.String("ca-file", "", "CA certificate to verify against (default DIR/tls/ca.pem)")
	table := tableFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one division code"); err != nil {
		return err
	}
	v, err := loadVerified(*dir, *caFile)
	if err != nil {
		return err
	}
	t, err := table()
	if err != nil {
		return err
	}
	r, err := registry.NewRouter(t, v.Snapshot.GetNodes())
	if err != nil {
		return err
	}
	code := pos[0]
	full, err := t.FullName(code)
	if err != nil {
		return err
	}
	chain, _ := t.Chain(code)
	n, err := r.Resolve(code)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s → node %s %s at %s (tried %s)\n", code, full, n.GetRegion(), n.GetAgencyName(), n.GetAddress(), strings.Join(chain, " → "))
	return nil
}

func runRegistryServe(ctx context.Context, args []string) error {
	fs := flagSet("registry serve")
	dir := fs.String("dir", "", "registry folder (serves its snapshot.pb, re-read when it changes)")
	listen := fs.String("listen", "127.0.0.1:7400", "host:port")
	tls := fs.String("tls", "", "folder with the registry's cert.pem, key.pem and ca.pem")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir", "tls"); err != nil {
		return err
	}
	return registry.Serve(ctx, registry.ServeConfig{
		Dir: *dir, Listen: *listen,
		CertFile: filepath.Join(*tls, certs.CertFile), KeyFile: filepath.Join(*tls, certs.KeyFile), CAFile: filepath.Join(*tls, certs.CACertFile),
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
}

func runRegistryTargets(_ context.Context, args []string) error {
	fs := flagSet("registry targets")
	dir := fs.String("dir", "", "registry folder")
	caFile := fs.String("ca-file", "", "CA certificate to verify against (default DIR/tls/ca.pem)")
	out := fs.String("out", "", "file to write (atomically); default standard output")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	v, err := loadVerified(*dir, *caFile)
	if err != nil {
		return err
	}
	if *out != "" {
		return registry.WriteTargets(*out, v.Snapshot)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(registry.Targets(v.Snapshot))
}
