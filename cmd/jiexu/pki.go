package main

import (
	"fmt"
	"math/big"
	"path/filepath"

	"github.com/spf13/cobra"

	"jiexu/certs"
)

func newCACmd() *cobra.Command {
	return group("ca", "the national CA: create it, issue and sign node certificates, revoke them",
		newCAInitCmd(), newCAIssueCmd(), newCACSRCmd(), newCASignCmd(), newCARevokeCmd())
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
	var caDir, region, name, out string
	var reg bool
	var hosts []string
	cmd := &cobra.Command{
		Use:   "issue --ca DIR --region CODE --name AGENCY --out DIR",
		Short: "issue a node (or, with --registry, the registry's) certificate and key",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		req := certs.IssueRequest{Role: certs.RoleNode, Region: region, Name: name, Hosts: hosts}
		if reg {
			req.Role = certs.RoleRegistry
		} else if region == "" {
			return usagef("--region is required (or --registry for the registry's certificate)")
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
	cmd.Flags().BoolVar(&reg, "registry", false, "issue the registry's signing certificate instead of a node's")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "DNS name or IP address the node serves on (repeatable)")
	required(cmd, "ca", "name", "out")
	return cmd
}

func newCACSRCmd() *cobra.Command {
	var region, name, out string
	cmd := &cobra.Command{
		Use:   "csr --region CODE --name AGENCY --out DIR",
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
		if err := certs.CreateCSR(out, region, name); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (send it to the national CA) and %s (keep it here)\n", filepath.Join(out, certs.CSRFile), filepath.Join(out, certs.KeyFile))
		return nil
	}
	cmd.Flags().StringVar(&region, "region", "", "pooling-region code")
	cmd.Flags().StringVar(&name, "name", "", "agency name")
	cmd.Flags().StringVar(&out, "out", "", "folder for key.pem and csr.pem")
	required(cmd, "name", "out", "region")
	return cmd
}

func newCASignCmd() *cobra.Command {
	var caDir, csr, out string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "sign --ca DIR --csr FILE --out DIR",
		Short: "sign a node's request",
		Args:  noArgs,
	}
	table := addTableFlag(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		t, err := table()
		if err != nil {
			return err
		}
		ca, err := certs.LoadCA(caDir, certs.WithRegionCheck(t.CheckPlace))
		if err != nil {
			return err
		}
		cert, err := ca.SignCSR(csr, hosts, out)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "signed %s for %s, serial %s\n", cert.URIs[0], cert.Subject.CommonName, cert.SerialNumber)
		return nil
	}
	cmd.Flags().StringVar(&caDir, "ca", "", "the CA folder")
	cmd.Flags().StringVar(&csr, "csr", "", "the node's csr.pem")
	cmd.Flags().StringVar(&out, "out", "", "folder to write cert.pem and ca.pem into")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "DNS name or IP address the node serves on (repeatable)")
	required(cmd, "ca", "csr", "out")
	return cmd
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
