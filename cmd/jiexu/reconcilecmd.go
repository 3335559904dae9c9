package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"jiexu/node"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// exitDifferences is the exit status of a reconciliation that found
// differences: it ran, and an operator must look.
const exitDifferences = 3

// differencesError is returned by reconcile when it found differences.
type differencesError struct{ n int }

func (e differencesError) Error() string {
	return fmt.Sprintf("%d difference(s) with the peer: each needs an operator on both sides", e.n)
}

// reconcileTimeout bounds a reconciliation: a peer limits its pages to the
// rate of certificate look-ups after a burst.
const reconcileTimeout = 15 * time.Minute

func newReconcileCmd() *cobra.Command {
	var peer, date, since string
	cmd := &cobra.Command{
		Use:   "reconcile --config FILE --peer CODE [--date YYYY-MM-DD | --since YYYY-MM-DD]",
		Short: "compare the cases shared with a peer (对账) and list every difference",
		Long: `Compare, over the wire, the cases this node shares with a peer: each side's
state, the balance remitted and credited, the confirmation and the certificate.
Every difference is listed: a case missing on one side, a pair that ended one
way here and another there, amounts that differ, a dead-lettered message.

The cases are those each node opened on --date (default today), or from --since
until today. A case with a message still queued on either side is in flight and
not compared; a difference is reported only when a second look a moment later
finds it again.

Exit status: 0 when the two sides agree, 3 when there are differences, 1 when
the reconciliation could not run (the peer unreachable, say), 2 on wrong usage.`,
		Args: noArgs,
	}
	dial := addAgencyFlags(cmd)
	asJSON := addJSONFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&peer, "peer", "", "the peer's region code")
	f.StringVar(&date, "date", "", "the day the cases were opened, YYYY-MM-DD (default today)")
	f.StringVar(&since, "since", "", "the first day, YYYY-MM-DD: every case opened from then until today")
	required(cmd, "peer")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		req, err := reconcileRequest(peer, date, since, time.Now())
		if err != nil {
			return err
		}
		c, done, err := dial.dial()
		if err != nil {
			return err
		}
		defer done()
		ctx, cancel := context.WithTimeout(cmd.Context(), reconcileTimeout)
		defer cancel()
		resp, err := c.Reconcile(ctx, req)
		if err != nil {
			return err
		}
		if *asJSON {
			err = printJSON(cmd.OutOrStdout(), resp)
		} else {
			node.WriteReconcileReport(cmd.OutOrStdout(), resp)
		}
		if err == nil && len(resp.GetDifferences()) > 0 {
			err = differencesError{n: len(resp.GetDifferences())}
		}
		return err
	}
	return cmd
}

// reconcileRequest turns the flags into a request.
func reconcileRequest(peer, date, since string, now time.Time) (*jiexuv1.ReconcileRequest, error) {
	day := func(flag, s string) (*jiexuv1.Date, error) {
		t, err := time.ParseInLocation("2006-01-02", s, rules.CST)
		if err != nil {
			return nil, usagef("--%s %q: write the day as YYYY-MM-DD", flag, s)
		}
		return rules.DateOf(t), nil
	}
	if date != "" && since != "" {
		return nil, usagef("--date and --since: give one (a day, or the first of a range ending today)")
	}
	req := &jiexuv1.ReconcileRequest{Peer: peer, OpenedFrom: rules.DateOf(now)}
	var err error
	switch {
	case since != "":
		req.OpenedFrom, err = day("since", since)
	case date != "":
		req.OpenedFrom, err = day("date", date)
		req.OpenedTo = req.OpenedFrom
	default:
		req.OpenedTo = req.OpenedFrom
	}
	return req, err
}

// isDifferences reports whether err says a reconciliation found differences.
func isDifferences(err error) bool {
	var d differencesError
	return errors.As(err, &d)
}
