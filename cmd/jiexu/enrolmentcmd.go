package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// The commands of the person's enrolment: show, suspend (中止参保, issuing
// the certificate), resume, and paying out money held here.

func newRecordsShowCmd() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "show --config FILE --id ID",
		Short: "one person's enrolment periods here",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the person's ID number")
	required(cmd, "id")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: id})
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), resp.GetEnrolment())
			}
			render.FormatEnrolment(cmd.OutOrStdout(), resp.GetEnrolment())
			if at := resp.GetIdIssuedAt(); at != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "ID issued at %s\n", at)
			}
			return nil
		})
	}
	return cmd
}

// parseDate reads YYYY-MM-DD for a flag.
func parseDate(flag, s string) (*jiexuv1.Date, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, rules.CST)
	if err != nil {
		return nil, usagef("--%s %q: must be YYYY-MM-DD, e.g. 2026-06-05", flag, s)
	}
	return rules.DateOf(t), nil
}

func newRecordsSuspendCmd() *cobra.Command {
	var id, last, on string
	var confirm bool
	cmd := &cobra.Command{
		Use:   "suspend --config FILE --id ID --last-month YYYY-MM [--on YYYY-MM-DD] [--confirm-waiting]",
		Short: "suspend (中止参保) and issue the certificate",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the person's ID number")
	cmd.Flags().StringVar(&last, "last-month", "", "参保止: the last month of the enrolment, YYYY-MM")
	cmd.Flags().StringVar(&on, "on", "", "the day of suspension, YYYY-MM-DD (default today); the 3-month window runs from it")
	cmd.Flags().BoolVar(&confirm, "confirm-waiting", false, "confirm at once a transfer case that waits here for this suspension (you know the applicant)")
	required(cmd, "id", "last-month")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ym, err := rules.ParseYearMonth(last)
		if err != nil {
			return usagef("--last-month: %w", err)
		}
		day, err := parseDate("on", on)
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: id, LastMonth: ym, SuspendedOn: day, ConfirmWaiting: confirm})
			if err != nil {
				return err
			}
			if err := printCertificate(w, resp.GetCertificate()); err != nil {
				return err
			}
			for _, cs := range resp.GetCases() {
				fmt.Fprintf(w, "\ncase %s (to %s) waited for this suspension and is now %s\n", cs.GetCaseId(), cs.GetDestinationRegion(), strings.ToUpper(render.Label(cs.GetState())))
				if cs.GetState() == jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION {
					fmt.Fprintf(w, "  it goes on when the applicant presents this certificate at %s, or when you confirm it: jiexu transfer confirm %s\n", cs.GetDestinationRegion(), cs.GetCaseId())
				}
			}
			return nil
		})
	}
	return cmd
}

func newRecordsResumeCmd() *cobra.Command {
	var id, reason string
	cmd := &cobra.Command{
		Use:   "resume --config FILE --id ID",
		Short: "cancel a suspension no transfer used (恢复参保); its certificate becomes void",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the person's ID number")
	cmd.Flags().StringVar(&reason, "reason", "", "why the suspension is cancelled (recorded on the voided certificate)")
	required(cmd, "id")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.ResumeEnrolment(ctx, &jiexuv1.ResumeEnrolmentRequest{IdNumber: id, Reason: reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "resumed; certificate %s is void\n", resp.GetVoidedCertificate())
			render.FormatEnrolment(cmd.OutOrStdout(), resp.GetEnrolment())
			return nil
		})
	}
	return cmd
}

func newRecordsPayHeldCmd() *cobra.Command {
	var id, amount, how string
	var period uint32
	cmd := &cobra.Command{
		Use:   "pay-held --config FILE --id ID --period N --amount YUAN --how TEXT",
		Short: "record that money held for the person (held, in records show) was paid to them, and clear it",
		Args:  noArgs,
	}
	dial := addAgencyFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "the person's ID number")
	cmd.Flags().Uint32Var(&period, "period", 0, "the period's number (the first column of 'records show')")
	cmd.Flags().StringVar(&amount, "amount", "", "the held amount in yuan, all of it, e.g. 1024.00")
	cmd.Flags().StringVar(&how, "how", "", "how and when it was paid, e.g. \"一次性支付至本人银行账户，凭证2026-1125-07\"")
	required(cmd, "id", "period", "amount", "how")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fen, err := rules.ParseYuan(amount)
		if err != nil {
			return usagef("--amount %q: %v", amount, err)
		}
		return dial.call(cmd.Context(), func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
			resp, err := c.PayOutHeld(ctx, &jiexuv1.PayOutHeldRequest{IdNumber: id, Period: period, AmountFen: fen, How: how})
			if err != nil {
				return err
			}
			render.FormatEnrolment(cmd.OutOrStdout(), resp.GetEnrolment())
			return nil
		})
	}
	return cmd
}
