package node

import (
	"time"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Overdue reports whether an open case has passed a deadline whose step is
// not done.
func Overdue(c *jiexuv1.Case, now time.Time) bool {
	if Terminal(c.GetState()) && c.GetState() != jiexuv1.CaseState_CASE_STATE_CLOSED {
		return false
	}
	switch c.GetSide() {
	case jiexuv1.CaseSide_CASE_SIDE_ORIGIN:
		done := rank[c.GetState()] >= rank[jiexuv1.CaseState_CASE_STATE_REMITTED] ||
			c.GetState() == jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT && c.GetAmountFen() == 0
		return !done && rules.PastDue(c.GetTransferOutDue(), now)
	case jiexuv1.CaseSide_CASE_SIDE_DESTINATION:
		return c.GetState() != jiexuv1.CaseState_CASE_STATE_COMPLETED && rules.PastDue(c.GetTransferInDue(), now)
	}
	return false
}

// applyRules fills the destination's computed fields when the certificate
// arrives: registration window, gap, waiting period and the transfer-in
// deadline.
func (n *Node) applyRules(c *jiexuv1.Case, cert *jiexuv1.Certificate, rec *jiexuv1.Record, now time.Time) {
	c.TransferInDue = rules.DateOf(n.cal.AddWorkdays(now, rules.TransferInDays))
	c.RegisterBy = cert.GetRegisterBy()
	if rec == nil {
		return
	}
	from := rec.GetEnrolledFrom()
	if c.GetRegisterBy() != nil && from != nil {
		start := time.Date(int(from.GetYear()), time.Month(from.GetMonth()), 1, 0, 0, 0, 0, rules.CST)
		c.RegisteredInTime = !start.After(rules.DateTime(c.GetRegisterBy()))
	}
	gap := rules.GapMonths(cert.GetEnrolledTo(), from)
	w := rules.DecideWaiting(cert.GetScheme(), rec.GetScheme(), int(cert.GetMonthsPaid()), gap, rec.GetGapBackPaid(), n.cfg.WaitingPeriodMonths)
	c.GapMonths, c.WaitingMonths, c.WaitingReason = int32(gap), int32(w.Months), w.Reason
}
