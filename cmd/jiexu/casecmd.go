package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"jiexu/node/render"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// The commands that act on one case: the applicant's withdrawal, the
// origin's refusal and confirmation, and a certificate presented on paper.

func newTransferWithdrawCmd() *cobra.Command {
	var detail string
	cmd := &cobra.Command{
		Use:   "withdraw --config FILE CASE_ID",
		Short: "the applicant withdraws (撤销) an application the origin has not acted on",
		Args:  exactArgs(1, "one case id (see 'jiexu transfer list')"),
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&detail, "detail", "", "the applicant's reason, if given")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.WithdrawCase(ctx, &jiexuv1.WithdrawCaseRequest{CaseId: args[0], Detail: detail})
			if err != nil {
				return err
			}
			render.FormatCase(cmd.OutOrStdout(), resp.GetCase())
			return nil
		})
	}
	return cmd
}

// refuseReasons are the names --reason accepts.
var refuseReasons = []string{"not_suspended", "not_enrolled", "identity_mismatch", "already_transferred", "other"}

func newTransferRefuseCmd() *cobra.Command {
	var reason, detail string
	cmd := &cobra.Command{
		Use:   "refuse --config FILE CASE_ID --reason REASON",
		Short: "refuse a case waiting here (origin)",
		Args:  exactArgs(1, "one case id (see 'jiexu transfer list --side origin')"),
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "not_suspended (未中止参保), not_enrolled (未参保), identity_mismatch (信息不符), already_transferred (已转出) or other")
	cmd.Flags().StringVar(&detail, "detail", "", "a sentence the applicant can act on (required with other)")
	completeWords(cmd, "reason", refuseReasons...)
	required(cmd, "reason")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		v, ok := jiexuv1.RejectReason_value["REJECT_REASON_"+strings.ToUpper(reason)]
		if !ok {
			return usagef("--reason %q: use %s", reason, strings.Join(refuseReasons, ", "))
		}
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.RefuseCase(ctx, &jiexuv1.RefuseCaseRequest{CaseId: args[0], Reason: jiexuv1.RejectReason(v), Detail: detail})
			if err != nil {
				return err
			}
			render.FormatCase(cmd.OutOrStdout(), resp.GetCase())
			return nil
		})
	}
	return cmd
}

func newCertRegisterCmd() *cobra.Command {
	var id, code, issuer string
	cmd := &cobra.Command{
		Use:   "register --config FILE NUMBER --id ID --code XXXX-XXXX-XXXX",
		Short: "register a paper certificate the person brought (destination)",
		Args:  exactArgs(1, "one certificate number"),
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the holder's ID number, as on the paper")
	cmd.Flags().StringVar(&code, "code", "", "the 核验码 printed on the paper, XXXX-XXXX-XXXX")
	cmd.Flags().StringVar(&issuer, "issuer", "", "the issuing region (default: found from the number)")
	required(cmd, "id", "code")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		w := cmd.OutOrStdout()
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.RegisterCertificate(ctx, &jiexuv1.RegisterCertificateRequest{Number: args[0], IdNumber: id, VerificationCode: code, IssuerDivision: issuer})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "the issuer %s holds this certificate and the paper's verification code matches:\n", resp.GetIssuerRegion())
			if err := printCertificate(w, resp.GetCertificate()); err != nil {
				return err
			}
			if a := resp.GetAssessment(); a.GetWaitingReason() != "" {
				fmt.Fprintln(w, "\nfor the person's enrolment here:")
				render.FormatCase(w, a)
			}
			return nil
		})
	}
	return cmd
}

func newTransferConfirmCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "confirm --config FILE CASE_ID",
		Short: "confirm a case waiting here for the applicant's certificate (origin), after checking the application",
		Args:  exactArgs(1, "one case id (see 'jiexu transfer list --side origin --state waiting_confirmation')"),
	}
	dial := addAgencyFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.ConfirmCase(ctx, &jiexuv1.ConfirmCaseRequest{CaseId: args[0]})
			if err != nil {
				return err
			}
			render.FormatCase(cmd.OutOrStdout(), resp.GetCase())
			return nil
		})
	}
	return cmd
}
