package main

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"jiexu/certs"
	"jiexu/registry"
)

func newCACmd() *cobra.Command {
	return group("ca", "the national CA: create it, issue and sign node certificates, revoke them, announce the registry's certificate",
		newCAInitCmd(), newCAIssueCmd(), newCACSRCmd(), newCASignCmd(), newCARevokeCmd(), newCAAnnounceRegistryCmd())
}

func newCAInitCmd() *cobra.Command {
	var dir, name string
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "create the national root CA",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := certs.InitCA(dir, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created CA %q in %s (key %s: keep it offline)\n", ca.Cert.Subject.CommonName, dir, filepath.Join(dir, certs.CAKeyFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder for the CA (created; must not hold a CA already)")
	cmd.Flags().StringVar(&name, "name", certs.DefaultCAName, "the root's subject common name")
	required(cmd, "dir")
	return cmd
}

func newCAIssueCmd() *cobra.Command {
	var caDir, region, name, out, kind, role string
	var reg bool
	var hosts []string
	cmd := &cobra.Command{
		Use:   "issue --ca DIR --region CODE --name AGENCY --kind KIND --out DIR",
		Short: "issue a certificate and key: a node's, the registry's, or the national Prometheus's (--role)",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		req := certs.IssueRequest{Role: certs.RoleNode, Region: region, Name: name, Hosts: hosts, Kind: kind}
		if reg {
			role = "registry"
		}
		switch role {
		case "node":
			if region == "" {
				return usagef("--region is required for a node's certificate (or --role registry|monitoring)")
			}
		case "registry":
			req.Role = certs.RoleRegistry
		case "monitoring":
			req.Role = certs.RoleMonitoring
		default:
			return usagef("--role %q must be node, registry or monitoring", role)
		}
		t, err := table()
		if err != nil {
			return err
		}
		ca, err := certs.LoadCA(caDir, certs.WithRegionCheck(t.CheckPlace))
		if err != nil {
			return err
		}
		cert, err := ca.Issue(req, out)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "issued %s for %s, serial %s, valid to %s\n  %s\n  fingerprint %s\n", cert.URIs[0], name, cert.SerialNumber,
			cert.NotAfter.Format("2006-01-02"), filepath.Join(out, certs.CertFile), certs.Fingerprint(cert))
		return nil
	}
	cmd.Flags().StringVar(&caDir, "ca", "", "the CA folder")
	cmd.Flags().StringVar(&region, "region", "", "pooling-region code (GB/T 2260), e.g. 150100")
	cmd.Flags().StringVar(&name, "name", "", "agency name, e.g. 呼和浩特市医疗保险管理局")
	cmd.Flags().StringVar(&out, "out", "", "folder to write key.pem, cert.pem and ca.pem into")
	cmd.Flags().StringVar(&kind, "kind", "", "the agency's kind, certified in the certificate: insurance or ncms")
	cmd.Flags().StringVar(&role, "role", "node", "node, registry (the registry's signing certificate) or monitoring (the national Prometheus's client certificate for nodes' /metrics)")
	cmd.Flags().BoolVar(&reg, "registry", false, "the same as --role registry")
	completeWords(cmd, "role", "node", "registry", "monitoring")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "DNS name or IP address the node (or the registry) serves on (repeatable); nodes reach the registry by one of these")
	completeWords(cmd, "kind", certs.KindInsurance, certs.KindNCMS)
	required(cmd, "ca", "name", "out")
	return cmd
}

func newCACSRCmd() *cobra.Command {
	var region, name, out, kind string
	cmd := &cobra.Command{
		Use:   "csr --region CODE --name AGENCY --kind KIND --out DIR",
		Short: "make a key and a signing request on the node's machine",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		t, err := table()
		if err != nil {
			return err
		}
		if err := t.CheckPlace(region); err != nil {
			return fmt.Errorf("--region: %w", err)
		}
		if err := certs.CreateCSR(out, region, name, kind); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (send it to the national CA) and %s (keep it here)\n", filepath.Join(out, certs.CSRFile), filepath.Join(out, certs.KeyFile))
		return nil
	}
	cmd.Flags().StringVar(&region, "region", "", "pooling-region code")
	cmd.Flags().StringVar(&name, "name", "", "agency name")
	cmd.Flags().StringVar(&out, "out", "", "folder for key.pem and csr.pem")
	cmd.Flags().StringVar(&kind, "kind", "", "the agency's kind: insurance (社会（医疗）保险经办机构) or ncms (新型农村合作医疗经办机构)")
	completeWords(cmd, "kind", certs.KindInsurance, certs.KindNCMS)
	required(cmd, "name", "out", "region")
	return cmd
}

func newCASignCmd() *cobra.Command {
	var caDir, csr, out, kind, registryAddr string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "sign --ca DIR --csr FILE --host HOST --out DIR",
		Short: "sign a node's request; send back the one file DIR/bundle.pem",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		t, err := table()
		if err != nil {
			return err
		}
		if kind != "" {
			if err := certs.CheckKind(kind); err != nil {
				return usagef("--kind: %v", err)
			}
		}
		ca, err := certs.LoadCA(caDir, certs.WithRegionCheck(t.CheckPlace))
		if err != nil {
			return err
		}
		if _, err := os.Stat(csr); err != nil {
			return fmt.Errorf("--csr: %w (the csr.pem that 'jiexu node init' made on the agency's machine)", err)
		}
		cert, err := ca.SignCSRKind(csr, hosts, kind, out)
		if err != nil {
			return err
		}
		bundle := filepath.Join(out, certs.BundleFile)
		if err := certs.WriteBundle(bundle, certs.Bundle{Cert: cert, CA: ca.Cert, RegistryAddress: registryAddr}); err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "signed %s for %s (%s), serial %s, valid for %s\n", cert.URIs[0], cert.Subject.CommonName,
			orUnstated(certs.KindOf(cert)), cert.SerialNumber, strings.Join(certHosts(cert), ", "))
		fmt.Fprintf(w, "send back the one file %s; the agency installs it with 'jiexu node init --bundle %s'\n", bundle, certs.BundleFile)
		if registryAddr == "" {
			fmt.Fprintln(w, "(no --registry-address: the agency must give 'jiexu node init' the registry's address with --registry)")
		}
		fmt.Fprintf(w, "then list the node: jiexu registry add --dir REGISTRY --cert %s --address %s:7443 --metrics %s:9443 && jiexu registry sign …\n",
			filepath.Join(out, certs.CertFile), firstOr(certHosts(cert), "HOST"), firstOr(certHosts(cert), "HOST"))
		return nil
	}
	cmd.Flags().StringVar(&caDir, "ca", "", "the CA folder")
	cmd.Flags().StringVar(&csr, "csr", "", "the node's csr.pem")
	cmd.Flags().StringVar(&out, "out", "", "folder to write bundle.pem (and cert.pem, ca.pem) into")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "DNS name or IP address the node serves on (repeatable): the registry entry's --address must name one")
	cmd.Flags().StringVar(&kind, "kind", "", "certify the agency's kind (insurance or ncms); default the one the request asks for")
	cmd.Flags().StringVar(&registryAddr, "registry-address", "", "the registry's host:port, carried in the bundle for the node's config; its host must be one of the registry certificate's --host")
	completeWords(cmd, "kind", certs.KindInsurance, certs.KindNCMS)
	required(cmd, "ca", "csr", "out", "host")
	return cmd
}

// certHosts lists the DNS names and IP addresses a certificate is valid for.
func certHosts(c *x509.Certificate) []string {
	hosts := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

func firstOr(list []string, def string) string {
	if len(list) == 0 {
		return def
	}
	return list[0]
}

func orUnstated(kind string) string {
	if kind == "" {
		return "kind not stated"
	}
	return kind
}

func newCARevokeCmd() *cobra.Command {
	var caDir string
	var serials, files []string
	cmd := &cobra.Command{
		Use:   "revoke --ca DIR (--serial N | --cert FILE)…",
		Short: "revoke certificates and write a new signed CRL",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ns []*big.Int
			for _, s := range serials {
				n, ok := new(big.Int).SetString(s, 10)
				if !ok {
					return usagef("--serial %q is not a decimal number", s)
				}
				ns = append(ns, n)
			}
			for _, f := range files {
				c, err := certs.LoadCertificate(f)
				if err != nil {
					return err
				}
				ns = append(ns, c.SerialNumber)
			}
			if len(ns) == 0 {
				return usagef("name at least one --serial or --cert")
			}
			ca, err := certs.LoadCA(caDir)
			if err != nil {
				return err
			}
			if _, err := ca.Revoke(ns); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %d certificate(s); wrote %s. Run 'jiexu registry sign' so nodes learn of it.\n", len(ns), filepath.Join(caDir, certs.CRLFile))
			return nil
		},
	}
	cmd.Flags().StringVar(&caDir, "ca", "", "the CA folder")
	cmd.Flags().StringSliceVar(&serials, "serial", nil, "decimal serial number to revoke (repeatable)")
	cmd.Flags().StringSliceVar(&files, "cert", nil, "certificate file to revoke (repeatable)")
	required(cmd, "ca")
	return cmd
}

func newCAAnnounceRegistryCmd() *cobra.Command {
	var caDir, certFile, out string
	var epoch uint64
	cmd := &cobra.Command{
		Use:   "announce-registry --ca DIR --cert REGISTRY.pem --epoch N --out FILE",
		Short: "name the registry certificate nodes trust from now on (recovery from a lost registry key)",
		Long: `Seal, with the CA's own key, the statement that from epoch N on snapshots are
signed by this registry certificate and no other. Write it into the registry
folder (announcement.pb): every snapshot signed from then on carries it, and
nodes that verify it pin the certificate and count versions afresh.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ca, err := certs.LoadCA(caDir)
			if err != nil {
				return err
			}
			cert, err := certs.LoadCertificate(certFile)
			if err != nil {
				return err
			}
			a, err := registry.Announce(ca, cert, epoch, time.Now())
			if err != nil {
				return err
			}
			if err := registry.WriteAnnouncement(out, a); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "announced registry certificate %s for epoch %d in %s.\nNodes refuse snapshots from any other registry certificate once they see it: sign with it ('jiexu registry sign --tls …') and serve it.\n",
				certs.Fingerprint(cert), epoch, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&caDir, "ca", "", "the CA folder")
	cmd.Flags().StringVar(&certFile, "cert", "", "the new registry certificate (cert.pem from 'jiexu ca issue --registry')")
	cmd.Flags().Uint64Var(&epoch, "epoch", 0, "1 for the first announcement, then one more than the last")
	cmd.Flags().StringVar(&out, "out", "", "file to write, normally the registry folder's announcement.pb")
	required(cmd, "ca", "cert", "epoch", "out")
	return cmd
}
