package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"jiexu/certs"
	"jiexu/node"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// newAuditCmd reads a node's audit chain: every message in and out, every
// peer's receipt and every case transition, hash-chained with sealed
// checkpoints.
func newAuditCmd() *cobra.Command {
	return group("audit", "the node's tamper-evident audit chain: check it, export one case's evidence",
		newAuditVerifyCmd(), newAuditExportCmd(), newAuditVerifyExportCmd())
}

func newAuditVerifyCmd() *cobra.Command {
	var store, caFile string
	cmd := &cobra.Command{
		Use:   "verify (--config FILE | --store FILE --ca CA.pem)",
		Short: "check the node's audit chain: every link, checkpoint and seal",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&store, "store", "", "check this store file offline instead (a backup, or a stopped node's jiexu.db); needs --ca")
	cmd.Flags().StringVar(&caFile, "ca", "", "the national CA certificate (with --store)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		w := cmd.OutOrStdout()
		if store != "" {
			if caFile == "" {
				return usagef("--ca is required with --store")
			}
			ca, err := certs.LoadCertificate(caFile)
			if err != nil {
				return err
			}
			r, err := node.VerifyAuditStore(store, ca)
			if err != nil {
				return err
			}
			return node.WriteAuditReport(w, r)
		}
		_, conn, err := dial.dialConn()
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
		defer cancel()
		r, err := jiexuv1.NewAuditServiceClient(conn).VerifyAudit(ctx, &jiexuv1.VerifyAuditRequest{})
		if err != nil {
			return err
		}
		return node.WriteAuditReport(w, r)
	}
	return cmd
}

func newAuditExportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export --config FILE CASE_ID --out FILE",
		Short: "the evidence for one case (messages, seals, receipts, checkpoints), to verify offline",
		Args:  exactArgs(1, "one case id"),
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "", "file to write the evidence to (readable by you only)")
	required(cmd, "out")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		_, conn, err := dial.dialConn()
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
		defer cancel()
		resp, err := jiexuv1.NewAuditServiceClient(conn).ExportCase(ctx, &jiexuv1.ExportCaseRequest{CaseId: args[0]})
		if err != nil {
			return err
		}
		data, err := proto.Marshal(resp.GetExport())
		if err != nil {
			return err
		}
		if err := node.WritePrivate(out, data); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote the evidence for case %s to %s (%d links); check it with 'jiexu audit verify-export --ca ca.pem %s'\n",
			args[0], out, len(resp.GetExport().GetLinks()), out)
		return nil
	}
	return cmd
}

func newAuditVerifyExportCmd() *cobra.Command {
	var caFile string
	cmd := &cobra.Command{
		Use:   "verify-export --ca CA.pem FILE",
		Short: "check a case's evidence offline against the CA",
		Args:  exactArgs(1, "one export file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := certs.LoadCertificate(caFile)
			if err != nil {
				return err
			}
			if err := node.VerifyAuditExport(args[0], ca, cmd.OutOrStdout()); err != nil {
				return fmt.Errorf("%s does NOT verify: %w", args[0], err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&caFile, "ca", "", "the national CA certificate (ca.pem)")
	required(cmd, "ca")
	return cmd
}
