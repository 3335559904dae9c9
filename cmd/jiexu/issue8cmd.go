package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func runRecordsShow(ctx context.Context, args []string) error {
	fs := flagSet("records show")
	dial := agency(fs)
	id := fs.String("id", "", "the person's ID number")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "id"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: *id})
		if err != nil {
			return err
		}
		render.FormatEnrolment(os.Stdout, resp.GetEnrolment())
		return nil
	})
}

// parseDate reads YYYY-MM-DD for a flag.
func parseDate(flag, s string) (*jiexuv1.Date, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, rules.CST)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: must be YYYY-MM-DD, e.g. 2026-06-05", flag, s)
	}
	return rules.DateOf(t), nil
}

func runRecordsSuspend(ctx context.Context, args []string) error {
	fs := flagSet("records suspend")
	dial := agency(fs)
	id := fs.String("id", "", "the person's ID number")
	last := fs.String("last-month", "", "参保止: the last month of the enrolment, YYYY-MM")
	on := fs.String("on", "", "the day of suspension, YYYY-MM-DD (default today); the 3-month window runs from it")
	confirm := fs.Bool("confirm-waiting", false, "confirm at once a transfer case that waits here for this suspension (you know the applicant)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "id", "last-month"); err != nil {
		return err
	}
	ym, err := rules.ParseYearMonth(*last)
	if err != nil {
		return fmt.Errorf("--last-month: %w", err)
	}
	day, err := parseDate("on", *on)
	if err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{IdNumber: *id, LastMonth: ym, SuspendedOn: day, ConfirmWaiting: *confirm})
		if err != nil {
			return err
		}
		if err := printCertificate(resp.GetCertificate()); err != nil {
			return err
		}
		for _, cs := range resp.GetCases() {
			fmt.Printf("\ncase %s (to %s) waited for this suspension and is now %s\n", cs.GetCaseId(), cs.GetDestinationRegion(), strings.ToUpper(render.Label(cs.GetState())))
			if cs.GetState() == jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION {
				fmt.Printf("  it goes on when the applicant presents this certificate at %s, or when you confirm it: jiexu transfer confirm %s\n", cs.GetDestinationRegion(), cs.GetCaseId())
			}
		}
		return nil
	})
}

func runRecordsResume(ctx context.Context, args []string) error {
	fs := flagSet("records resume")
	dial := agency(fs)
	id := fs.String("id", "", "the person's ID number")
	reason := fs.String("reason", "", "why the suspension is cancelled (recorded on the voided certificate)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "id"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.ResumeEnrolment(ctx, &jiexuv1.ResumeEnrolmentRequest{IdNumber: *id, Reason: *reason})
		if err != nil {
			return err
		}
		fmt.Printf("resumed; certificate %s is void\n", resp.GetVoidedCertificate())
		render.FormatEnrolment(os.Stdout, resp.GetEnrolment())
		return nil
	})
}

func runTransferWithdraw(ctx context.Context, args []string) error {
	fs := flagSet("transfer withdraw")
	dial := agency(fs)
	detail := fs.String("detail", "", "the applicant's reason, if given")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one case id (see 'jiexu transfer list')"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.WithdrawCase(ctx, &jiexuv1.WithdrawCaseRequest{CaseId: pos[0], Detail: *detail})
		if err != nil {
			return err
		}
		render.FormatCase(os.Stdout, resp.GetCase())
		return nil
	})
}

func runTransferRefuse(ctx context.Context, args []string) error {
	fs := flagSet("transfer refuse")
	dial := agency(fs)
	reason := fs.String("reason", "", "not_suspended (未中止参保), not_enrolled (未参保), identity_mismatch (信息不符), already_transferred (已转出) or other")
	detail := fs.String("detail", "", "a sentence the applicant can act on (required with other)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "reason"); err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one case id (see 'jiexu transfer list --side origin')"); err != nil {
		return err
	}
	v, ok := jiexuv1.RejectReason_value["REJECT_REASON_"+strings.ToUpper(*reason)]
	if !ok {
		return fmt.Errorf("--reason %q: use not_suspended, not_enrolled, identity_mismatch, already_transferred or other", *reason)
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.RefuseCase(ctx, &jiexuv1.RefuseCaseRequest{CaseId: pos[0], Reason: jiexuv1.RejectReason(v), Detail: *detail})
		if err != nil {
			return err
		}
		render.FormatCase(os.Stdout, resp.GetCase())
		return nil
	})
}

func runCertRegister(ctx context.Context, args []string) error {
	fs := flagSet("cert register")
	dial := agency(fs)
	id := fs.String("id", "", "the holder's ID number, as on the paper")
	code := fs.String("code", "", "the 核验码 printed on the paper, XXXX-XXXX-XXXX")
	issuer := fs.String("issuer", "", "the issuing region (default: found from the number)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := required(fs, "id", "code"); err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one certificate number"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.RegisterCertificate(ctx, &jiexuv1.RegisterCertificateRequest{Number: pos[0], IdNumber: *id, VerificationCode: *code, IssuerDivision: *issuer})
		if err != nil {
			return err
		}
		fmt.Printf("the issuer %s holds this certificate and the paper's verification code matches:\n", resp.GetIssuerRegion())
		if err := printCertificate(resp.GetCertificate()); err != nil {
			return err
		}
		if a := resp.GetAssessment(); a.GetWaitingReason() != "" {
			fmt.Println("\nfor the person's enrolment here:")
			render.FormatCase(os.Stdout, a)
		}
		return nil
	})
}

func runTransferConfirm(ctx context.Context, args []string) error {
	fs := flagSet("transfer confirm")
	dial := agency(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := positional(fs, pos, 1, "one case id (see 'jiexu transfer list --side origin --state waiting_confirmation')"); err != nil {
		return err
	}
	return dial.call(ctx, func(ctx context.Context, c jiexuv1.AgencyServiceClient) error {
		resp, err := c.ConfirmCase(ctx, &jiexuv1.ConfirmCaseRequest{CaseId: pos[0]})
		if err != nil {
			return err
		}
		render.FormatCase(os.Stdout, resp.GetCase())
		return nil
	})
}
