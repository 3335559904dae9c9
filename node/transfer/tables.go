package transfer

import (
	"fmt"
	"slices"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// destinationTable is the destination's side of a case. The destination
// opens the case (or accepts the origin's request), waits for the
// certificate and the balance in either order, credits, confirms and
// completes; it declines what arrives for a withdrawn case and returns money
// it cannot credit.
var destinationTable = []row{
	// Opening.
	{from: states(none), on: Apply, when: standingIs(Active), to: applied, do: send(SendNotice),
		says: "the person is enrolled here: notify the origin"},
	{from: states(none), on: Apply, when: standingIs(NotEnrolled, Suspended, Gone), fail: ErrNotEnrolledHere,
		says: "apply only for a person with an active enrolment here (enrol first: records put / import)"},
	{from: states(none), on: Apply, when: standingIs(NameMismatch), fail: ErrNameMismatch, says: "the name must be the record's"},
	{from: states(none), on: Apply, when: standingIs(OtherCase), fail: ErrCaseOpen, says: "one open case per person"},
	{from: states(none), on: Request, when: standingIs(Active), to: applied, do: send(SendNotice),
		says: "applied at the origin and enrolled here: notify the origin as if applied here"},
	{from: states(none), on: Request, to: refused, do: refuseRequest,
		says: "applied at the origin but not enrolled here: refuse"},
	{from: allBut(), on: Request, to: stay, says: "a repeated request, or one that a withdrawal overtook"},

	// The origin has the notice.
	{from: states(applied), on: NoticeAcked, to: notified, says: "the origin has the notice; its 10 working days run"},
	{from: allBut(applied), on: NoticeAcked, to: stay, says: "the case already moved on"},

	// The certificate.
	{from: states(applied, notified), on: Certificate, when: certificateOwes, to: certified, do: certify,
		says: "a balance is owed: wait for it"},
	{from: states(applied, notified), on: Certificate, to: completed, do: certifyNothingOwed,
		says: "nothing owed: transferred in; confirm"},
	{from: states(funded), on: Certificate, when: heldCreditable, to: completed, do: certifyAndCredit,
		says: "the balance arrived first and matches: credit and confirm"},
	{from: states(funded), on: Certificate, to: completed, do: certifyAndReturnHeld,
		says: "the balance arrived first but cannot be credited: return it"},
	{from: states(certified, completed), on: Certificate, to: stay, says: "a repeated certificate"},
	{from: states(withdrawn), on: Certificate, when: notDeclined, to: stay, do: decline,
		says: "withdrawn after the origin acted: decline the certificate so the origin restores the enrolment"},
	{from: states(withdrawn), on: Certificate, to: stay, says: "already declined"},
	{from: states(refused), on: Certificate, fail: ErrUnexpected, says: "the origin refused this case and cannot certify it"},

	// The balance.
	{from: states(applied, notified), on: Funds, to: funded, do: hold, says: "hold it until the certificate confirms it"},
	{from: states(funded), on: Funds, when: sameAsHeld, to: stay, says: "a repeated remittance"},
	{from: states(funded), on: Funds, fail: ErrUnexpected, says: "a second, different remittance"},
	{from: states(certified), on: Funds, when: creditable, to: completed, do: credit, says: "credit and confirm"},
	{from: states(certified), on: Funds, to: completed, do: returnFunds, says: "cannot be credited: return it"},
	{from: states(completed), on: Funds, when: alreadyHandled, to: stay, says: "a repeated remittance"},
	{from: states(completed), on: Funds, to: stay, do: returnWith(returnNotOwed), says: "nothing is owed: return it"},
	{from: states(withdrawn), on: Funds, to: stay, do: returnWith(returnWithdrawn), says: "withdrawn: return it"},
	{from: states(refused), on: Funds, to: stay, do: returnWith(returnNotOwed), says: "refused: return it"},

	// The origin's refusal.
	{from: states(none), on: Refusal, when: reasonIs(reasonWithdrawn), to: withdrawn, do: recordRefusal,
		says: "withdrawn at the origin before its request arrived: record it, so the request finds it ended"},
	{from: states(applied, notified), on: Refusal, when: reasonIs(reasonWithdrawn), to: withdrawn, do: recordRefusal,
		says: "the applicant withdrew at the origin"},
	{from: states(applied, notified), on: Refusal, to: refused, do: recordRefusal, says: "refused, with the origin's reason"},
	{from: states(refused, withdrawn), on: Refusal, to: stay, says: "a repeated refusal, or the origin confirming a withdrawal"},
	{from: states(certified, funded, completed), on: Refusal, fail: ErrUnexpected, says: "the origin has already acted"},

	// The applicant presents the certificate after applying.
	{from: states(applied, notified), on: Present, to: stay, do: send(SendNotice),
		says: "send the notice again, with the applicant's certificate, to the origin"},
	{from: allBut(applied, notified), on: Present, fail: ErrTooLate, says: "the origin has already acted, or the case has ended"},

	// The applicant withdraws here.
	{from: states(applied, notified), on: Withdraw, to: withdrawn, do: withdrawHere,
		says: "end the case now and tell the origin; the person is free to apply again"},
	{from: states(certified, funded, completed), on: Withdraw, fail: ErrTooLate,
		says: "the origin has already transferred the enrolment out"},
	{from: states(refused, withdrawn), on: Withdraw, fail: ErrTooLate, says: "the case has ended"},
}

// originTable is the origin's side of a case. The origin checks the
// conditions when the notice arrives: a suspended enrolment is transferred
// out at once; an NCMS participation ends by itself when the person joined
// an urban scheme; an employee or resident still enrolled here waits for the
// local suspension; anything else is refused with a reason.
var originTable = []row{
	// Opening at the origin (2021 rule): the destination must confirm the enrolment.
	{from: states(none), on: ApplyOut, when: standingIs(Active, Suspended), to: requested, do: send(SendRequest),
		says: "ask the destination to confirm the enrolment there"},
	{from: states(none), on: ApplyOut, when: standingIs(NotEnrolled, Gone), fail: ErrNotEnrolledHere,
		says: "apply out only for a person enrolled or suspended here"},
	{from: states(none), on: ApplyOut, when: standingIs(NameMismatch), fail: ErrNameMismatch, says: "the name must be the record's"},
	{from: states(none), on: ApplyOut, when: standingIs(OtherCase), fail: ErrCaseOpen, says: "one open case per person"},

	// The notice: check the conditions. An application lodged here was
	// checked here: the destination's notice confirms the enrolment there.
	{from: states(requested), on: Notice, when: standingIs(Suspended), to: certificateSent, do: transferOut,
		says: "applied here, suspended here, the destination confirmed: act"},
	{from: states(requested), on: Notice, when: endsOnJoining, to: certificateSent, do: endOnJoining,
		says: "applied here; the member joined an urban scheme (or the employee scheme): end the participation here"},
	{from: states(none, requested), on: Notice, when: standingIs(NotEnrolled), to: refused, do: refuseWith(reasonNotEnrolled),
		says: "未参保"},
	{from: states(none, requested), on: Notice, when: standingIs(NameMismatch), to: refused,
		do: refuseWith(jiexuv1.RejectReason_REJECT_REASON_IDENTITY_MISMATCH), says: "信息不符"},
	{from: states(none, requested), on: Notice, when: standingIs(OtherCase), to: refused,
		do: refuseWith(jiexuv1.RejectReason_REJECT_REASON_CASE_OPEN), says: "another transfer is in progress here"},
	{from: states(none, requested), on: Notice, when: standingIs(Gone), to: refused,
		do: refuseWith(jiexuv1.RejectReason_REJECT_REASON_ALREADY_TRANSFERRED), says: "已转出"},
	{from: states(none, requested), on: Notice, when: proofIs(ProofWrong), to: refused, do: refuseWrongProof,
		says: "信息不符: the certificate presented is not the one issued here"},
	{from: states(none, requested), on: Notice, when: provenSuspension, to: certificateSent, do: transferOut,
		says: "suspended here, and the applicant's certificate presented: send it and, account to account, the balance"},
	{from: states(none, requested), on: Notice, when: provenEndOnJoining, to: certificateSent, do: endOnJoining,
		says: "an NCMS participation ends by itself on joining an urban scheme (2009 §4, 2015 §1), a resident one on joining the employee scheme (2015 §1), on the member's card number"},
	{from: states(none, requested), on: Notice, when: confirmable, to: confirming, do: awaitConfirmation,
		says: "suspended (or ends on joining) but no proof of the applicant: wait for it or the operator"},
	{from: states(none, requested), on: Notice, when: standingIs(Active), to: waiting, do: wait,
		says: "still enrolled here: wait for the local suspension, never suspend because another agency asked"},
	{from: states(confirming), on: Notice, when: provenSuspension, to: certificateSent, do: transferOut,
		says: "the applicant's certificate was presented at the destination: act"},
	{from: states(confirming), on: Notice, when: provenEndOnJoining, to: certificateSent, do: endOnJoining,
		says: "the member's card number was presented: end the participation here"},
	{from: allBut(requested), on: Notice, to: stay, says: "a repeated notice, one without the proof awaited, or one a withdrawal overtook"},

	// The local suspension.
	{from: states(waiting), on: Suspension, when: confirmedSuspension, to: certificateSent, do: transferOut,
		says: "the operator who suspends confirms the case that waited for it: act"},
	{from: states(waiting), on: Suspension, when: standingIs(Suspended), to: confirming, do: awaitConfirmation,
		says: "suspended now: wait for the applicant's certificate at the destination, or the operator"},
	{from: states(waiting), on: Suspension, to: stay, says: "the person is not suspended after all"},
	{from: states(confirming), on: Suspension, when: confirmedSuspension, to: certificateSent, do: transferOut,
		says: "a case that waited for confirmation (a participation that ends on joining, or a notice that came first) is confirmed by the operator who suspends"},
	{from: allBut(waiting), on: Suspension, to: stay, says: "this case does not wait for it"},

	// The operator's confirmation.
	{from: states(confirming), on: Confirm, when: standingIs(Suspended), to: certificateSent, do: transferOut,
		says: "the operator checked the application: act"},
	{from: states(confirming), on: Confirm, when: endsOnJoining, to: certificateSent, do: endOnJoining,
		says: "the operator checked the application: end the participation here"},
	{from: states(confirming), on: Confirm, fail: ErrUnexpected, says: "the person is no longer suspended here"},
	{from: allBut(confirming), on: Confirm, fail: ErrUnexpected, says: "only a case waiting for confirmation is confirmed"},

	// The operator's refusal.
	{from: states(waiting, confirming), on: Refuse, to: refused, do: refuseAsOperator,
		says: "the operator's reason (e.g. 未中止参保) goes to the destination"},
	{from: states(requested), on: Refuse, fail: ErrUnexpected, says: "the application was lodged here: withdraw it instead"},
	{from: states(certificateSent, remitted), on: Refuse, fail: ErrTooLate, says: "the enrolment was already transferred out"},
	{from: states(closed, refused, withdrawn, returned), on: Refuse, fail: ErrTooLate, says: "the case has ended"},

	// The applicant's proof arrived with another notice. A notice without
	// proof cannot hold the person's enrolment against the applicant who
	// holds the certificate: it is refused, and the proven one proceeds.
	{from: states(confirming), on: Superseded, to: refused, do: refuseWith(jiexuv1.RejectReason_REJECT_REASON_OTHER),
		says: "another destination presented the applicant's certificate; this notice had no proof"},
	{from: allBut(confirming), on: Superseded, fail: ErrUnexpected, says: "only a case waiting for confirmation gives way"},

	// The applicant withdraws here.
	{from: states(requested, waiting, confirming), on: Withdraw, to: withdrawn, do: withdrawAtOrigin,
		says: "end the case and tell the destination"},
	{from: states(certificateSent, remitted), on: Withdraw, fail: ErrTooLate, says: "the enrolment was already transferred out"},
	{from: states(closed, refused, withdrawn, returned), on: Withdraw, fail: ErrTooLate, says: "the case has ended"},

	// The applicant withdrew at the destination.
	{from: states(none), on: WithdrawRequest, to: withdrawn, do: recordWithdrawal,
		says: "the withdrawal overtook the notice: record the case as withdrawn, so the notice finds it ended"},
	{from: states(requested, waiting, confirming), on: WithdrawRequest, to: withdrawn, do: recordWithdrawal,
		says: "not acted on yet: end the case"},
	{from: allBut(requested, waiting, confirming), on: WithdrawRequest, to: stay,
		says: "too late here: the destination declines what arrives, and the enrolment is restored"},

	// The destination refuses or declines.
	{from: states(requested), on: Refusal, when: reasonIs(reasonWithdrawn), to: withdrawn, do: recordRefusal,
		says: "the applicant withdrew at the destination"},
	{from: states(requested), on: Refusal, to: refused, do: recordRefusal, says: "the destination could not confirm the enrolment"},
	{from: states(waiting, confirming), on: Refusal, when: reasonIs(reasonWithdrawn), to: withdrawn, do: recordRefusal,
		says: "the applicant withdrew at the destination"},
	{from: states(certificateSent, remitted), on: Refusal, when: declineSettles, to: returned, do: restoreAfterDecline,
		says: "the certificate was declined and no money is outstanding: restore the suspended enrolment"},
	{from: states(certificateSent, remitted), on: Refusal, when: reasonIs(reasonWithdrawn), to: stay, do: markDeclined,
		says: "declined: wait for the balance to come back"},
	{from: states(refused, withdrawn, returned), on: Refusal, to: stay, says: "a repeated refusal"},
	{from: states(waiting, confirming, certificateSent, remitted, closed), on: Refusal, fail: ErrUnexpected,
		says: "only a withdrawal can end a case the destination applied for"},

	// Acknowledgements of our messages.
	{from: allBut(), on: CertificateAcked, to: stay, do: certificateAcked, says: "noted; the destination still confirms or declines"},
	{from: states(certificateSent), on: FundsAcked, to: remitted, says: "the balance was delivered; wait for the confirmation"},
	{from: allBut(certificateSent), on: FundsAcked, to: stay, says: "the case already moved on"},

	// The destination confirms it took the certificate (and credited the balance).
	{from: states(certificateSent, remitted), on: Confirmation, to: closed, do: confirm,
		says: "the destination took the certificate and credited what was owed"},
	{from: states(closed), on: Confirmation, to: stay, says: "a repeated confirmation"},
	{from: states(requested, waiting, confirming, refused, withdrawn, returned), on: Confirmation, fail: ErrUnexpected,
		says: "nothing was sent to confirm"},

	// The destination sends the balance back: only what was remitted, and
	// only once the remittance was acknowledged here.
	{from: states(certificateSent), on: FundsReturned, when: owesAnything, fail: ErrRetry,
		says: "the remittance is not acknowledged here yet: the destination retries"},
	{from: states(remitted), on: FundsReturned, when: undoneWithAllOfIt, to: returned, do: restoreWithFunds,
		says: "withdrawn: the transfer did not happen; restore the suspended enrolment with its balance"},
	{from: states(remitted), on: FundsReturned, when: allOfIt, to: returned, do: holdReturned,
		says: "the relationship moved but the balance could not be credited: hold it for the person"},
	{from: states(remitted), on: FundsReturned, fail: ErrUnexpected, says: "a return of another amount than was remitted"},
	{from: states(returned), on: FundsReturned, when: sameReturn, to: stay, says: "a repeated return"},
	{from: states(returned), on: FundsReturned, fail: ErrUnexpected, says: "a second, different return"},
	{from: states(requested, waiting, confirming, certificateSent, closed, refused, withdrawn), on: FundsReturned, fail: ErrUnexpected,
		says: "no balance of this case is out"},
}

// allBut lists the states of existing cases of both sides except some. A
// case that does not exist yet is never in it: the rows that create a case
// name it.
func allBut(except ...jiexuv1.CaseState) []jiexuv1.CaseState {
	all := []jiexuv1.CaseState{applied, notified, certified, funded, completed, refused, received, waiting, confirming,
		certificateSent, remitted, closed, requested, withdrawn, returned}
	return slices.DeleteFunc(all, func(s jiexuv1.CaseState) bool { return slices.Contains(except, s) })
}

// Guards.

func standingIs(s ...Standing) *guard {
	name := "standing "
	for i, v := range s {
		if i > 0 {
			name += "|"
		}
		name += v.String()
	}
	return &guard{name, func(_ *jiexuv1.Case, in Input) bool { return slices.Contains(s, in.Standing) }}
}

func proofIs(p Proof) *guard {
	return &guard{p.String(), func(_ *jiexuv1.Case, in Input) bool { return in.Proof == p }}
}

func reasonIs(r jiexuv1.RejectReason) *guard {
	return &guard{"reason " + label(r.String(), "REJECT_REASON_"), func(_ *jiexuv1.Case, in Input) bool { return in.Reason == r }}
}

var (
	certificateOwes = &guard{"certificate owes a balance", func(c *jiexuv1.Case, in Input) bool {
		return Owed(in.CertificateBalance, in.CertificateScheme, c.GetDestinationScheme())
	}}
	heldCreditable = &guard{"held amount is owed, matches and can be credited", func(c *jiexuv1.Case, in Input) bool {
		return Owed(in.CertificateBalance, in.CertificateScheme, c.GetDestinationScheme()) &&
			c.GetAmountFen() == in.CertificateBalance && in.Account
	}}
	notDeclined = &guard{"not yet declined", func(c *jiexuv1.Case, _ Input) bool { return !c.GetDeclined() }}
	sameAsHeld  = &guard{"same amount as held", func(c *jiexuv1.Case, in Input) bool { return c.GetAmountFen() == in.Amount }}
	creditable  = &guard{"amount as certified and an account to credit", func(c *jiexuv1.Case, in Input) bool {
		return in.Amount == c.GetExpectedAmountFen() && in.Account
	}}
	alreadyHandled = &guard{"this remittance was credited or returned", func(c *jiexuv1.Case, in Input) bool {
		return c.GetFunded() && c.GetAmountFen() == in.Amount || c.GetReturnReason() != 0 && c.GetReturnedFen() == in.Amount
	}}
	endsOnJoining = &guard{"active NCMS joining an urban scheme, or resident joining the employee scheme", func(c *jiexuv1.Case, in Input) bool {
		return in.Standing == Active && EndsOnJoining(in.Scheme, c.GetDestinationScheme())
	}}
	declineSettles = &guard{"withdrawn, nothing owed", func(c *jiexuv1.Case, in Input) bool {
		return in.Reason == reasonWithdrawn && c.GetAmountFen() == 0
	}}
	owesAnything = &guard{"a balance was remitted", func(c *jiexuv1.Case, _ Input) bool { return c.GetAmountFen() > 0 }}
	allOfIt      = &guard{"the whole amount remitted", func(c *jiexuv1.Case, in Input) bool {
		return c.GetAmountFen() > 0 && in.Amount == c.GetAmountFen()
	}}
	undoneWithAllOfIt = &guard{"withdrawn (returned or declined), the whole amount", func(c *jiexuv1.Case, in Input) bool {
		return (in.ReturnReason == returnWithdrawn || c.GetDeclined()) && c.GetAmountFen() > 0 && in.Amount == c.GetAmountFen()
	}}
	provenSuspension = &guard{"suspended, proof matches", func(_ *jiexuv1.Case, in Input) bool {
		return in.Standing == Suspended && in.Proof == ProofMatches
	}}
	provenEndOnJoining = &guard{"ends on joining, the card number matches", func(c *jiexuv1.Case, in Input) bool {
		return endsOnJoining.ok(c, in) && in.Proof == ProofMatches
	}}
	confirmable = &guard{"suspended, or ends on joining", func(c *jiexuv1.Case, in Input) bool {
		return in.Standing == Suspended || endsOnJoining.ok(c, in)
	}}
	confirmedSuspension = &guard{"suspended, the operator confirms", func(_ *jiexuv1.Case, in Input) bool {
		return in.Standing == Suspended && in.Confirmed
	}}
	sameReturn = &guard{"same return", func(c *jiexuv1.Case, in Input) bool {
		return c.GetReturnedFen() == in.Amount && c.GetReturnReason() == in.ReturnReason
	}}
)

// Effects.

func send(k EffectKind) func(*jiexuv1.Case, Input) []Effect {
	return func(*jiexuv1.Case, Input) []Effect { return []Effect{{Kind: k}} }
}

func refuseRequest(c *jiexuv1.Case, in Input) []Effect {
	detail := "该参保人未在转入地参保 (not enrolled at the destination)"
	switch in.Standing {
	case NameMismatch:
		detail = "姓名与转入地参保记录不符 (the name does not match the destination's record)"
	case OtherCase:
		detail = "该参保人在转入地已有正在办理的转移 (another transfer is in progress at the destination)"
	}
	c.RejectReason, c.RejectDetail = jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED_AT_DESTINATION, detail
	return []Effect{{Kind: SendRefusal, Reason: c.GetRejectReason(), Detail: detail}}
}

// refuseWith refuses with a reason's sentence, and what the node adds of
// its own record (where and when the person was transferred out).
func refuseWith(r jiexuv1.RejectReason) func(*jiexuv1.Case, Input) []Effect {
	return func(c *jiexuv1.Case, in Input) []Effect {
		c.RejectReason, c.RejectDetail, c.Note = r, RefusalText(r), ""
		if in.Detail != "" {
			c.RejectDetail += "：" + in.Detail
		}
		return []Effect{{Kind: SendRefusal, Reason: r, Detail: c.GetRejectDetail()}}
	}
}

func refuseAsOperator(c *jiexuv1.Case, in Input) []Effect {
	detail := in.Detail
	if detail == "" {
		detail = RefusalText(in.Reason)
	}
	c.RejectReason, c.RejectDetail, c.Note = in.Reason, detail, "" // no longer waiting
	return []Effect{{Kind: SendRefusal, Reason: in.Reason, Detail: detail}}
}

func recordRefusal(c *jiexuv1.Case, in Input) []Effect {
	c.RejectReason, c.RejectDetail = in.Reason, in.Detail
	return nil
}

func refuseWrongProof(c *jiexuv1.Case, in Input) []Effect {
	c.RejectReason = jiexuv1.RejectReason_REJECT_REASON_IDENTITY_MISMATCH
	c.RejectDetail = "信息不符：出示的参保凭证号或核验码与转出地出具的不符 (the certificate presented is not the one the origin issued, or it is void: ask the person for the certificate, or its re-issue, 补办)"
	if in.ProofIsCard {
		c.RejectDetail = "信息不符：出示的医疗保障卡号与转出地参保（合）记录不符，或该参保（合）关系不因参加转入地医保而自动终止 (the card number presented is not the one the origin holds, or the participation there does not end by itself on this enrolment: ask the person for the card, or the certificate of a suspension)"
	}
	return []Effect{{Kind: SendRefusal, Reason: c.GetRejectReason(), Detail: c.GetRejectDetail()}}
}

func awaitConfirmation(c *jiexuv1.Case, in Input) []Effect {
	c.OriginScheme = in.Scheme
	c.Note = "等待申请人出示参保凭证或转出地经办人员确认 (waiting for the applicant's certificate to be presented at the destination, or this office's confirmation: jiexu transfer confirm)"
	return nil
}

func wait(c *jiexuv1.Case, in Input) []Effect {
	c.OriginScheme = in.Scheme
	c.Note = "转出地尚未中止参保，等待转出地办理中止参保手续 (waiting for the enrolment at the origin to be suspended)"
	return nil
}

// transferOut is the origin acting: the suspended period leaves, the
// certificate goes, and the balance goes when it is owed.
func transferOut(c *jiexuv1.Case, in Input) []Effect {
	c.Acted, c.OriginScheme, c.Note = true, in.Scheme, ""
	dest := c.GetDestinationScheme()
	owed := int64(0)
	if Owed(in.Balance, in.Scheme, dest) {
		owed = in.Balance
	} else if in.Balance > 0 {
		c.Note = fmt.Sprintf("个人账户余额%s留在转出地 (the balance stays here for the person: %s has no personal account)",
			rules.AmountFigures(in.Balance), schemeName(dest))
	}
	c.AmountFen, c.ExpectedAmountFen = owed, owed
	effects := []Effect{{Kind: TransferOut, Amount: owed}, {Kind: SendCertificate}}
	if owed > 0 {
		effects = append(effects, Effect{Kind: SendFunds, Amount: owed})
	}
	return effects
}

func endOnJoining(c *jiexuv1.Case, in Input) []Effect {
	return append([]Effect{{Kind: EndOnJoining}}, transferOut(c, in)...)
}

func certify(c *jiexuv1.Case, in Input) []Effect {
	c.Certified, c.OriginScheme, c.MonthsPaid = true, in.CertificateScheme, in.CertificateMonths
	c.ExpectedAmountFen = 0
	if Owed(in.CertificateBalance, in.CertificateScheme, c.GetDestinationScheme()) {
		c.ExpectedAmountFen = in.CertificateBalance
	} else if in.CertificateBalance > 0 {
		c.Note = fmt.Sprintf("个人账户余额%s留在转出地 (the balance stays at the origin: this scheme has no personal account)",
			rules.AmountFigures(in.CertificateBalance))
	}
	effects := []Effect{{Kind: Assess}}
	if m := in.EmployeeMonths; m > 0 {
		effects = append(effects, Effect{Kind: AddMonths, Months: m})
	}
	return effects
}

func certifyNothingOwed(c *jiexuv1.Case, in Input) []Effect {
	return append(certify(c, in), Effect{Kind: SendConfirmation})
}

func certifyAndCredit(c *jiexuv1.Case, in Input) []Effect {
	return append(certify(c, in), Effect{Kind: Credit, Amount: c.GetAmountFen()}, Effect{Kind: SendConfirmation, Amount: c.GetAmountFen()})
}

func certifyAndReturnHeld(c *jiexuv1.Case, in Input) []Effect {
	effects := certify(c, in)
	reason := returnMismatch
	switch {
	case !Owed(in.CertificateBalance, in.CertificateScheme, c.GetDestinationScheme()):
		reason = returnNotOwed
	case !in.Account:
		reason = returnNoAccount
	}
	amount := c.GetAmountFen()
	c.Funded, c.AmountFen = false, 0
	c.ReturnedFen, c.ReturnReason = amount, reason
	return append(effects, Effect{Kind: SendReturn, Amount: amount, ReturnReason: reason, Detail: ReturnText(reason)})
}

func hold(c *jiexuv1.Case, in Input) []Effect {
	c.Funded, c.AmountFen = true, in.Amount
	return []Effect{{Kind: Hold, Amount: in.Amount}}
}

func credit(c *jiexuv1.Case, in Input) []Effect {
	c.Funded, c.AmountFen = true, in.Amount
	return []Effect{{Kind: Credit, Amount: in.Amount}, {Kind: SendConfirmation, Amount: in.Amount}}
}

func returnFunds(c *jiexuv1.Case, in Input) []Effect {
	reason := returnMismatch
	if !in.Account {
		reason = returnNoAccount
	}
	return returnWith(reason)(c, in)
}

func returnWith(reason jiexuv1.ReturnReason) func(*jiexuv1.Case, Input) []Effect {
	return func(c *jiexuv1.Case, in Input) []Effect {
		c.ReturnedFen, c.ReturnReason = in.Amount, reason
		return []Effect{{Kind: SendReturn, Amount: in.Amount, ReturnReason: reason, Detail: ReturnText(reason)}}
	}
}

func decline(c *jiexuv1.Case, _ Input) []Effect {
	c.Declined = true
	return []Effect{{Kind: SendRefusal, Reason: reasonWithdrawn,
		Detail: "申请已撤销，转入地不接收凭证 (the application was withdrawn; the destination declines the certificate)"}}
}

func withdrawHere(c *jiexuv1.Case, in Input) []Effect {
	c.WithdrawDetail = in.Detail
	return []Effect{{Kind: SendWithdrawal, Detail: in.Detail}}
}

func withdrawAtOrigin(c *jiexuv1.Case, in Input) []Effect {
	c.WithdrawDetail, c.RejectReason, c.RejectDetail, c.Note = in.Detail, reasonWithdrawn, RefusalText(reasonWithdrawn), ""
	return []Effect{{Kind: SendRefusal, Reason: reasonWithdrawn, Detail: c.GetRejectDetail()}}
}

func recordWithdrawal(c *jiexuv1.Case, in Input) []Effect {
	c.WithdrawDetail, c.Note = in.Detail, ""
	return nil
}

func markDeclined(c *jiexuv1.Case, _ Input) []Effect {
	c.Declined = true
	c.Note = "转入地已撤销申请并拒收凭证，等待退回余额 (declined at the destination: waiting for the balance to come back)"
	return nil
}

func restoreAfterDecline(c *jiexuv1.Case, _ Input) []Effect {
	c.Declined = true
	c.Note = "申请已撤销，已恢复中止参保状态 (withdrawn: the suspended enrolment is restored here)"
	return []Effect{{Kind: Restore}}
}

func restoreWithFunds(c *jiexuv1.Case, in Input) []Effect {
	c.Declined = true
	c.ReturnedFen, c.ReturnReason = c.GetAmountFen(), in.ReturnReason
	c.Note = "申请已撤销，余额已退回，已恢复中止参保状态 (withdrawn: the balance came back and the suspended enrolment is restored)"
	return []Effect{{Kind: Restore, Amount: c.GetAmountFen()}}
}

func holdReturned(c *jiexuv1.Case, in Input) []Effect {
	c.ReturnedFen, c.ReturnReason = c.GetAmountFen(), in.ReturnReason
	c.Note = fmt.Sprintf("转入地退回个人账户余额%s，由转出地为参保人保管 (the destination returned the balance: %s; it is held here for the person)",
		rules.AmountFigures(in.Amount), in.Detail)
	return []Effect{{Kind: HoldReturned, Amount: c.GetAmountFen()}}
}

func certificateAcked(c *jiexuv1.Case, _ Input) []Effect {
	c.CertificateAcked = true
	return nil
}

func confirm(c *jiexuv1.Case, in Input) []Effect {
	c.Confirmed = true
	if in.Amount != c.GetAmountFen() {
		c.LastError = fmt.Sprintf("the destination confirmed %s, this node remitted %s", rules.AmountFigures(in.Amount), rules.AmountFigures(c.GetAmountFen()))
	}
	return nil
}

// RefusalText is the sentence sent with a refusal: what it means and what
// the applicant can do.
func RefusalText(r jiexuv1.RejectReason) string {
	switch r {
	case jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED:
		return "未参保：转出地无该身份证号码的参保记录 (the origin has no enrolment for this ID number: check the origin named and the ID number)"
	case jiexuv1.RejectReason_REJECT_REASON_IDENTITY_MISMATCH:
		return "信息不符：姓名与转出地参保记录不符 (the name does not match the origin's record: apply with the name registered there)"
	case jiexuv1.RejectReason_REJECT_REASON_ALREADY_TRANSFERRED:
		return "已转出：该参保关系已转出或已终止 (the enrolment at the origin was already transferred out or ended)"
	case jiexuv1.RejectReason_REJECT_REASON_CASE_OPEN:
		return "转出地已有正在办理的转移 (another transfer of this person is in progress at the origin: it must end, or be withdrawn where it was lodged, before another starts)"
	case jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED_AT_DESTINATION:
		return "该参保人未在转入地参保 (not enrolled at the destination: enrol there first)"
	case jiexuv1.RejectReason_REJECT_REASON_NOT_SUSPENDED:
		return "未中止参保：转出地参保关系尚未中止 (still enrolled at the origin: the employer, or the person, must report the end of the enrolment there first, then apply again)"
	case reasonWithdrawn:
		return "申请人已撤销申请 (the applicant withdrew the application)"
	}
	return "转出地经办机构不予办理 (refused by the origin's agency)"
}

// ReturnText is the sentence sent with a returned balance.
func ReturnText(r jiexuv1.ReturnReason) string {
	switch r {
	case returnWithdrawn:
		return "申请已撤销 (the application was withdrawn)"
	case returnNoAccount:
		return "转入地无可记入的个人账户 (no personal account to credit at the destination)"
	case returnMismatch:
		return "金额与凭证不符 (the amount differs from the certificate)"
	}
	return "本案无应转余额 (nothing is owed on this case)"
}

func schemeName(s jiexuv1.Scheme) string {
	switch s {
	case jiexuv1.Scheme_SCHEME_EMPLOYEE:
		return "城镇职工基本医疗保险"
	case jiexuv1.Scheme_SCHEME_RESIDENT:
		return "城镇居民基本医疗保险"
	case ncms:
		return "新型农村合作医疗"
	}
	return "the destination's scheme"
}
