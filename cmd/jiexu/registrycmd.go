package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

func newRegistryCmd() *cobra.Command {
	return group("registry", "the signed directory of nodes: add nodes, sign snapshots, serve them",
		newRegistryInitCmd(), newRegistryAddCmd(), newRegistryRemoveCmd(), newRegistrySignCmd(), newRegistryShowCmd(),
		newRegistryResolveCmd(), newRegistryServeCmd(), newRegistryTargetsCmd(), newRegistryDecideCmd(), newRegistryDivisionsCmd())
}

func newRegistryInitCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "create an empty directory of nodes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := registry.InitDir(dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s\n", filepath.Join(dir, registry.DirectoryFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder")
	required(cmd, "dir")
	return cmd
}

func newRegistryAddCmd() *cobra.Command {
	var dir, region, name, addr, metrics, kind string
	var certFiles, serves, former []string
	contact := &jiexuv1.Contact{}
	cmd := &cobra.Command{
		Use:   "add --dir DIR --cert FILE --address HOST:PORT",
		Short: "add or replace a node (region, name and kind default to what its certificate says)",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		n := &jiexuv1.Node{Region: region, AgencyName: name, Address: addr, MetricsAddress: metrics, Serves: serves, FormerRegions: former, Contact: contact}
		for i, f := range certFiles {
			c, err := certs.LoadCertificate(f)
			if err != nil {
				return fmt.Errorf("--cert: %w", err)
			}
			if err := registry.CheckNodeCertificate(c, addr, metrics); err != nil {
				return fmt.Errorf("--cert %s: %w", f, err)
			}
			r, err := certs.RegionOf(c)
			if err != nil {
				return fmt.Errorf("--cert %s: %w", f, err)
			}
			if i == 0 {
				// The first certificate supplies what the flags leave out.
				n.Region = cmp.Or(n.Region, r)
				n.AgencyName = cmp.Or(n.AgencyName, c.Subject.CommonName)
				kind = cmp.Or(kind, certs.KindOf(c))
			}
			if r != n.Region && !slices.Contains(former, r) { // a moved node pins its old certificate too
				return fmt.Errorf("--cert %s is for region %q, not %s", f, r, n.Region)
			}
			if k := certs.KindOf(c); k != "" && k != kind {
				return fmt.Errorf("--cert %s certifies an agency of kind %q, not %q: leave --kind out", f, k, kind)
			}
			n.CertificateFingerprints = append(n.CertificateFingerprints, certs.Fingerprint(c))
		}
		switch {
		case n.Region == "":
			return usagef("--region is required (or --cert, whose region is used)")
		case n.AgencyName == "":
			return usagef("--name is required (or --cert, whose agency name is used)")
		}
		switch cmp.Or(kind, certs.KindInsurance) {
		case certs.KindInsurance:
			n.Kind = jiexuv1.AgencyKind_AGENCY_KIND_INSURANCE
		case certs.KindNCMS:
			n.Kind = jiexuv1.AgencyKind_AGENCY_KIND_NCMS
		default:
			return usagef("--kind %q must be insurance or ncms", kind)
		}
		t, err := table()
		if err != nil {
			return err
		}
		if err := registry.AddNode(dir, t, n); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "added %s %s (%s) at %s", n.Region, n.AgencyName, registry.KindLabel(n.Kind), addr)
		if len(former) > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), ", formerly %s", strings.Join(former, ", "))
		}
		fmt.Fprintln(cmd.OutOrStdout(), "; run 'jiexu registry sign' to publish")
		return nil
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "registry folder")
	f.StringVar(&region, "region", "", "the node's pooling-region code (default: the certificate's)")
	f.StringVar(&name, "name", "", "agency name (default: the certificate's)")
	f.StringVar(&addr, "address", "", "host:port of the node's inter-node listener; the host must be one the certificate names")
	f.StringVar(&metrics, "metrics", "", "host:port of the node's /metrics listener")
	f.StringVar(&kind, "kind", "", "insurance or ncms (default: the certificate's, else insurance)")
	f.StringSliceVar(&certFiles, "cert", nil, "the node's cert.pem: pins its fingerprint and checks its region, name, kind and addresses (repeat during a rotation: old and new)")
	f.StringSliceVar(&serves, "serves", nil, "further division codes the node serves (comma-separated)")
	f.StringSliceVar(&former, "former", nil, "codes the node was registered under before its region's code changed; their entries are replaced (comma-separated)")
	f.StringVar(&contact.Address, "contact-address", "", "address printed on certificates")
	f.StringVar(&contact.Postcode, "contact-postcode", "", "postcode printed on certificates")
	f.StringVar(&contact.Phone, "contact-phone", "", "phone printed on certificates")
	f.StringVar(&contact.ContactPerson, "contact-person", "", "contact person printed on certificates")
	completeWords(cmd, "kind", certs.KindInsurance, certs.KindNCMS)
	required(cmd, "dir", "address")
	return cmd
}

func newRegistryRemoveCmd() *cobra.Command {
	var dir, region string
	cmd := &cobra.Command{
		Use:   "remove --dir DIR --region CODE",
		Short: "remove a node",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := registry.RemoveNode(dir, region); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s; run 'jiexu registry sign' to publish\n", region)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder")
	cmd.Flags().StringVar(&region, "region", "", "region to remove")
	required(cmd, "dir", "region")
	return cmd
}

func newRegistrySignCmd() *cobra.Command {
	var dir, caDir, tls string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "sign --dir DIR --ca CADIR --tls DIR",
		Short: "sign a new snapshot version (nodes fetch it within a minute)",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		kp, err := certs.LoadKeyPair(filepath.Join(tls, certs.CertFile), filepath.Join(tls, certs.KeyFile))
		if err != nil {
			return err
		}
		crl, err := certs.LoadCRL(filepath.Join(caDir, certs.CRLFile))
		if err != nil {
			return err
		}
		t, err := table()
		if err != nil {
			return err
		}
		signed, err := registry.SignDirectory(dir, t, kp.Signer(), crl, ttl, time.Now())
		if err != nil {
			return err
		}
		var snap jiexuv1.Snapshot
		if err := proto.Unmarshal(signed.GetSnapshot(), &snap); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "signed snapshot version %d: %d node(s), division table %s, %d bytes, expires %s\n", snap.GetVersion(), len(snap.GetNodes()),
			t.Identity(), len(signed.GetSnapshot()), snap.GetExpiresAt().AsTime().Format(time.RFC3339))
		return nil
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder")
	cmd.Flags().StringVar(&caDir, "ca", "", "the CA folder (for its current revocation list)")
	cmd.Flags().StringVar(&tls, "tls", "", "folder with the registry's cert.pem and key.pem (jiexu ca issue --registry)")
	cmd.Flags().DurationVar(&ttl, "ttl", 30*24*time.Hour, "how long nodes may use the snapshot")
	required(cmd, "dir", "ca", "tls")
	return cmd
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
	return registry.VerifySnapshot(signed, ca, nil, time.Now())
}

func newRegistryShowCmd() *cobra.Command {
	var dir, caFile string
	cmd := &cobra.Command{
		Use:   "show --dir DIR",
		Short: "print the signed snapshot (verified against the CA in DIR/tls or --ca-file)",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v, err := loadVerified(dir, caFile)
		if err != nil {
			return err
		}
		t, err := table()
		if err != nil {
			return err
		}
		s := v.Snapshot
		w := cmd.OutOrStdout()
		if *asJSON {
			return printJSON(w, s)
		}
		if p := s.GetDivisions(); p != nil && !t.SameTable(p) {
			if t, err = registry.TableFromProto(p); err != nil {
				return err
			}
		}
		fmt.Fprintf(w, "snapshot version %d (signature verified), issued %s, expires %s, %d revoked serial(s), CRL number %v, division table %s\n",
			s.GetVersion(), s.GetIssuedAt().AsTime().Format(time.RFC3339), s.GetExpiresAt().AsTime().Format(time.RFC3339), v.Revoked.Len(), v.Revoked.Number, t.Identity())
		if v.Pin != nil {
			fmt.Fprintf(w, "registry epoch %d: the CA announced certificate %s on %s\n", v.Pin.Epoch, v.Pin.Fingerprint, v.Pin.IssuedAt.Format(time.RFC3339))
		}
		for _, n := range s.GetNodes() {
			full, _ := t.FullName(n.GetRegion())
			fmt.Fprintf(w, "  %s  %-9s %-21s %s (%s)", n.GetRegion(), registry.KindLabel(n.GetKind()), n.GetAddress(), n.GetAgencyName(), full)
			if len(n.GetServes()) > 0 {
				fmt.Fprintf(w, " serves %s", strings.Join(n.GetServes(), ","))
			}
			if len(n.GetFormerRegions()) > 0 {
				fmt.Fprintf(w, " formerly %s", strings.Join(n.GetFormerRegions(), ","))
			}
			fmt.Fprintln(w)
		}
		for _, d := range s.GetSuccessorDecisions() {
			fmt.Fprintf(w, "  decision: %s → %s\n", d.GetCode(), d.GetSuccessor())
		}
		return nil
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "CA certificate to verify against (default DIR/tls/ca.pem)")
	required(cmd, "dir")
	return cmd
}

func newRegistryResolveCmd() *cobra.Command {
	var dir, caFile string
	cmd := &cobra.Command{
		Use:   "resolve --dir DIR CODE",
		Short: "which node serves a division code",
		Args:  exactArgs(1, "one division code"),
	}
	table := addTableFlag(cmd.Flags())
	asJSON := addJSONFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		v, err := loadVerified(dir, caFile)
		if err != nil {
			return err
		}
		t, err := table()
		if err != nil {
			return err
		}
		if *asJSON {
			r, err := registry.SnapshotRouter(t, v.Snapshot)
			if err != nil {
				return err
			}
			n, err := r.Resolve(args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), n)
		}
		return registry.WriteRoute(cmd.OutOrStdout(), t, v.Snapshot, args[0])
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "CA certificate to verify against (default DIR/tls/ca.pem)")
	required(cmd, "dir")
	return cmd
}

func newRegistryServeCmd() *cobra.Command {
	var dir, listen, tls string
	cmd := &cobra.Command{
		Use:   "serve --dir DIR --listen HOST:PORT --tls DIR",
		Short: "serve snapshots over mutual TLS",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			passed, err := inheritedListeners("listen")
			if err != nil {
				return err
			}
			return registry.Serve(cmd.Context(), registry.ServeConfig{
				Dir: dir, Listen: listen, Listener: passed["listen"],
				CertFile: filepath.Join(tls, certs.CertFile), KeyFile: filepath.Join(tls, certs.KeyFile), CAFile: filepath.Join(tls, certs.CACertFile),
				Logger: slog.New(node.ClipLogs(slog.NewJSONHandler(os.Stderr, nil))),
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder (serves its snapshot.pb, re-read when it changes)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7400", "host:port")
	cmd.Flags().StringVar(&tls, "tls", "", "folder with the registry's cert.pem, key.pem and ca.pem")
	required(cmd, "dir", "tls")
	return cmd
}

func newRegistryTargetsCmd() *cobra.Command {
	var dir, caFile, out string
	cmd := &cobra.Command{
		Use:   "targets --dir DIR [--out FILE]",
		Short: "write a Prometheus file_sd list of node metrics targets",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadVerified(dir, caFile)
			if err != nil {
				return err
			}
			if out != "" {
				return registry.WriteTargets(out, v.Snapshot)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(registry.Targets(v.Snapshot))
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "CA certificate to verify against (default DIR/tls/ca.pem)")
	cmd.Flags().StringVar(&out, "out", "", "file to write (atomically); default standard output")
	required(cmd, "dir")
	return cmd
}

func newRegistryDecideCmd() *cobra.Command {
	var dir, code, succ string
	var remove bool
	cmd := &cobra.Command{
		Use:   "decide --dir DIR --code FORMER (--successor CODE | --remove)",
		Short: "route a former division code that was split between nodes to one of its successors",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if (succ == "") != remove {
			return usagef("give --successor CODE, or --remove")
		}
		t, err := table()
		if err != nil {
			return err
		}
		if err := registry.Decide(dir, t, code, succ); err != nil {
			return err
		}
		if remove {
			fmt.Fprintf(cmd.OutOrStdout(), "removed the decision for %s; run 'jiexu registry sign' to publish\n", code)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "%s now routes to %s; run 'jiexu registry sign' to publish\n", code, succ)
		}
		return nil
	}
	cmd.Flags().StringVar(&dir, "dir", "", "registry folder")
	cmd.Flags().StringVar(&code, "code", "", "the former division code whose area was split")
	cmd.Flags().StringVar(&succ, "successor", "", "the code in force to route it to (one of its successors)")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the decision for --code")
	required(cmd, "dir", "code")
	return cmd
}

func newRegistryDivisionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "divisions CODE|ID…",
		Short: "what a division code is or was, and where its area went; where an ID number was issued",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("expected one or more division codes or ID numbers")
			}
			return nil
		},
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		t, err := table()
		if err != nil {
			return err
		}
		return registry.DescribeAll(cmd.OutOrStdout(), t, args)
	}
	return cmd
}
