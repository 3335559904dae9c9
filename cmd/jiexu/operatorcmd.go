package main

import (
	"fmt"
	"math/big"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"jiexu/certs"
	"jiexu/node"
)

// newOperatorCmd holds the commands of a node's own operator CA: the
// certificates that open agency_tls_listen to the bureau's staff.
func newOperatorCmd() *cobra.Command {
	return group("operator", "a node's own operator CA: certificates for the agency API over TCP",
		newOperatorInitCmd(), newOperatorIssueCmd(), newOperatorRevokeCmd())
}

func newOperatorInitCmd() *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "init --config FILE",
		Short: "create the node's own operator CA (operator_ca_dir)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := node.LoadConfig(cfgFile)
			if err != nil {
				return err
			}
			ca, err := node.InitOperators(cfg)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "created the operator CA %q in %s (keep %s away from the node if you can; the node reads ca.pem and crl.pem)\n",
				ca.Cert.Subject.CommonName, cfg.OperatorCADir, filepath.Join(cfg.OperatorCADir, certs.CAKeyFile))
			fmt.Fprintln(w, "set agency_tls_listen (e.g. \"10.1.2.3:7444\") in the config and restart the node to serve operators over TCP")
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", defaultConfig(), "the node's config file; the CA goes to its operator_ca_dir")
	required(cmd, "config")
	return cmd
}

func newOperatorIssueCmd() *cobra.Command {
	var cfgFile, name, role, out string
	var days int
	cmd := &cobra.Command{
		Use:   "issue --config FILE --name NAME --role reader|clerk|admin --out DIR",
		Short: "issue an operator certificate for agency_tls_listen",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := node.ParseRole(role)
			if err != nil {
				return usagef("--role: %v", err)
			}
			cfg, err := node.LoadConfig(cfgFile)
			if err != nil {
				return err
			}
			cert, err := node.IssueOperator(cfg, name, r, time.Duration(days)*24*time.Hour, out)
			if err != nil {
				return err
			}
			addr := cfg.AgencyTLSListen
			if addr == "" {
				addr = "HOST:PORT"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "issued %s to %s (%s), serial %s, valid to %s\n  use it with: jiexu … --agency %s --operator %s\n",
				cert.URIs[0], name, r, cert.SerialNumber, cert.NotAfter.Format("2006-01-02"), addr, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", defaultConfig(), "the node's config file")
	cmd.Flags().StringVar(&name, "name", "", "the operator's name")
	cmd.Flags().StringVar(&role, "role", "", "reader, clerk or admin")
	cmd.Flags().StringVar(&out, "out", "", "folder for the operator's key.pem, cert.pem, ca.pem and server-ca.pem")
	cmd.Flags().IntVar(&days, "days", 365, "validity in days")
	completeWords(cmd, "role", "reader", "clerk", "admin")
	required(cmd, "config", "name", "role", "out")
	return cmd
}

func newOperatorRevokeCmd() *cobra.Command {
	var cfgFile string
	var files, serials []string
	cmd := &cobra.Command{
		Use:   "revoke --config FILE (--cert FILE | --serial N)…",
		Short: "refuse operator certificates from the next connection on",
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
				return usagef("name at least one --cert or --serial")
			}
			cfg, err := node.LoadConfig(cfgFile)
			if err != nil {
				return err
			}
			if err := node.RevokeOperator(cfg, ns); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %d operator certificate(s); the node refuses them from the next connection on\n", len(ns))
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgFile, "config", defaultConfig(), "the node's config file")
	cmd.Flags().StringSliceVar(&files, "cert", nil, "an operator's cert.pem (repeatable)")
	cmd.Flags().StringSliceVar(&serials, "serial", nil, "decimal serial number (repeatable)")
	required(cmd, "config")
	return cmd
}
