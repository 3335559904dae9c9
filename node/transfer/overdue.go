package transfer

import (
	"time"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Overdue reports whether an open case has passed a working-day deadline
// of the 2021 rule whose step is not done: on the origin side, the
// transfer-out (10 days from the notice, or from an application lodged
// there) while the case still waits; on the destination side, the origin's
// transfer-out as the destination expects it while no certificate has come,
// its own transfer-in (5 days from the certificate) while the balance is
// missing, and the credit (5 days from the balance) while the certificate is.
func Overdue(c *jiexuv1.Case, now time.Time) bool {
	switch c.GetSide() {
	case originSide:
		switch c.GetState() {
		case requested, received, waiting, confirming:
			return rules.PastDue(c.GetTransferOutDue(), now)
		}
	case destinationSide:
		switch c.GetState() {
		case applied, notified:
			return rules.PastDue(c.GetTransferOutDue(), now)
		case certified:
			return rules.PastDue(c.GetTransferInDue(), now)
		case funded:
			return rules.PastDue(c.GetCreditDue(), now) || rules.PastDue(c.GetTransferOutDue(), now)
		}
	}
	return false
}
