package transfer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Event is something that happens to a case. Local events come from this
// node's operator or enrolment records; the others are messages from the
// other side, or the acknowledgement of one of ours.
type Event int

// The events, destination side first.
const (
	// Apply: the applicant applies at the destination (local).
	Apply Event = iota + 1
	// Request: the origin's RequestTransfer arrives (applied at the origin).
	Request
	// NoticeAcked: the origin acknowledged our NotifyTransfer.
	NoticeAcked
	// Certificate: the origin's certificate arrives, its seal verified.
	Certificate
	// Funds: the origin's remittance arrives.
	Funds
	// Refusal: the other side's RejectTransfer arrives.
	Refusal
	// Withdraw: the applicant withdraws here (local, either side).
	Withdraw
	// ApplyOut: the applicant applies at the origin (local).
	ApplyOut
	// Notice: the destination's NotifyTransfer arrives.
	Notice
	// Suspension: the person's enrolment was suspended here (local).
	Suspension
	// Refuse: the origin's operator refuses a waiting case (local).
	Refuse
	// WithdrawRequest: the destination's WithdrawTransfer arrives.
	WithdrawRequest
	// CertificateAcked: the destination acknowledged the certificate.
	CertificateAcked
	// FundsAcked: the destination acknowledged the remittance.
	FundsAcked
	// Confirmation: the destination's ConfirmRemittance arrives.
	Confirmation
	// FundsReturned: the destination's ReturnRemittance arrives.
	FundsReturned
	// Confirm: the origin's operator confirms a case waiting for confirmation (local).
	Confirm
	// Present: the applicant's certificate is presented at the destination
	// after the application (local).
	Present
	// Superseded: a notice carrying the applicant's proof arrived for the
	// person while this case waited for confirmation without any (local: the
	// node steps the waiting case before it takes the proven one).
	Superseded
)

var eventNames = map[Event]string{
	Apply: "apply", Request: "request", NoticeAcked: "notice-acked", Certificate: "certificate", Funds: "funds",
	Refusal: "refusal", Withdraw: "withdraw", ApplyOut: "apply-out", Notice: "notice", Suspension: "suspension",
	Refuse: "refuse", WithdrawRequest: "withdraw-request", CertificateAcked: "certificate-acked",
	FundsAcked: "funds-acked", Confirmation: "confirmation", FundsReturned: "funds-returned",
	Confirm: "confirm", Present: "present", Superseded: "superseded",
}

func (e Event) String() string {
	if s, ok := eventNames[e]; ok {
		return s
	}
	return fmt.Sprintf("event(%d)", int(e))
}

// Local reports whether an event comes from this node rather than a peer.
func (e Event) Local() bool {
	return e == Apply || e == ApplyOut || e == Withdraw || e == Suspension || e == Refuse || e == Confirm || e == Present ||
		e == Superseded
}

// Proof is what the origin finds of the applicant's proof in a notice: the
// certificate issued at the suspension (its number and verification code)
// or, for an NCMS member, the card number the origin gave.
type Proof int

// The proofs.
const (
	// NoProof: the notice carries none.
	NoProof Proof = iota
	// ProofMatches: it matches what the origin issued.
	ProofMatches
	// ProofWrong: it names another certificate, a wrong code or a void one.
	ProofWrong
)

var proofNames = map[Proof]string{NoProof: "no proof", ProofMatches: "proof matches", ProofWrong: "proof wrong"}

func (p Proof) String() string { return proofNames[p] }

// Standing is what a node holds for the person when an event needs it.
type Standing int

// The standings.
const (
	// Unknown: the event does not need it.
	Unknown Standing = iota
	// NotEnrolled: no enrolment for the ID number here.
	NotEnrolled
	// NameMismatch: enrolled here under another name.
	NameMismatch
	// OtherCase: another transfer case for the person is open here.
	OtherCase
	// Active: enrolled and contributing here.
	Active
	// Suspended: the last period is suspended, with its certificate.
	Suspended
	// Gone: the last period was transferred out or ended.
	Gone
)

var standingNames = map[Standing]string{
	Unknown: "unknown", NotEnrolled: "not-enrolled", NameMismatch: "name-mismatch", OtherCase: "other-case",
	Active: "active", Suspended: "suspended", Gone: "gone",
}

func (s Standing) String() string { return standingNames[s] }

// Input is an event with the facts its guards need.
type Input struct {
	Event Event
	// Standing is the person's standing here (Apply, Request, ApplyOut,
	// Notice, Suspension).
	Standing Standing
	// Scheme is the scheme of the person's period here (origin: the period
	// to transfer; destination: the active period), and Balance its
	// personal-account balance (origin). The scheme the person joined at the
	// destination is the case's destination_scheme, which the node sets from
	// the notice before the step.
	Scheme  jiexuv1.Scheme
	Balance int64
	// CertificateScheme, CertificateBalance and CertificateMonths are the
	// figures of a verified certificate (Certificate); EmployeeMonths the
	// employee-scheme months it carries, to be recognised here (2015 §3),
	// less months of a double enrolment the origin paid (counted once).
	CertificateScheme  jiexuv1.Scheme
	CertificateBalance int64
	CertificateMonths  int32
	EmployeeMonths     int32
	// Account says the person's period here can take a personal-account
	// credit (Certificate, Funds on the destination side).
	Account bool
	// Amount is the money a Funds, Confirmation or FundsReturned carries.
	Amount int64
	// Proof is the applicant's proof in a notice (Notice); ProofIsCard says
	// it was a card number rather than a certificate.
	Proof       Proof
	ProofIsCard bool
	// Confirmed says the origin's operator vouches for a waiting case as it
	// suspends the person (Suspension).
	Confirmed bool
	// Reason and Detail are a refusal's (Refusal, Refuse), ReturnReason a
	// return's (FundsReturned); Detail is also a withdrawal's reason.
	Reason       jiexuv1.RejectReason
	ReturnReason jiexuv1.ReturnReason
	Detail       string
}

// EffectKind is what the node must do after a step.
type EffectKind int

// The effects.
const (
	// SendNotice: NotifyTransfer to the origin.
	SendNotice EffectKind = iota + 1
	// SendRequest: RequestTransfer to the destination.
	SendRequest
	// SendCertificate: DeliverCertificate (the period's sealed certificate) to the destination.
	SendCertificate
	// SendFunds: Remit Amount to the destination.
	SendFunds
	// SendConfirmation: ConfirmRemittance of Amount to the origin.
	SendConfirmation
	// SendRefusal: RejectTransfer with Reason and Detail to the other side.
	SendRefusal
	// SendWithdrawal: WithdrawTransfer to the origin.
	SendWithdrawal
	// SendReturn: ReturnRemittance of Amount with ReturnReason to the origin.
	SendReturn
	// EndOnJoining: end the person's active participation here, which ends
	// by itself on joining elsewhere (EndsOnJoining), and issue its
	// certificate.
	EndOnJoining
	// TransferOut: the suspended period leaves: its status becomes
	// transferred out; Amount leaves its balance in the remittance, and any
	// balance that does not leave is held here for the person.
	TransferOut
	// Restore: the transfer did not happen: the period is suspended again and
	// Amount (returned) and what was held go back to its balance.
	Restore
	// HoldReturned: Amount came back after the relationship moved; it is held
	// here for the person.
	HoldReturned
	// Hold: Amount arrived before the certificate; it is held on the case.
	Hold
	// Credit: Amount is credited to the person's personal account here.
	Credit
	// AddMonths: Months of the employee scheme are recognised here.
	AddMonths
	// Assess: compute the registration window, the gap, the waiting period
	// and the transfer-in deadline from the certificate.
	Assess
)

var effectNames = map[EffectKind]string{
	SendNotice: "send notice", SendRequest: "send request", SendCertificate: "send certificate",
	SendFunds: "send funds", SendConfirmation: "send confirmation", SendRefusal: "send refusal",
	SendWithdrawal: "send withdrawal", SendReturn: "send return", EndOnJoining: "end participation (joined elsewhere)",
	TransferOut: "transfer period out", Restore: "restore period", HoldReturned: "hold returned money",
	Hold: "hold funds", Credit: "credit account", AddMonths: "add months", Assess: "assess",
}

func (k EffectKind) String() string { return effectNames[k] }

// Effect is one thing the node must do, in the step's transaction.
type Effect struct {
	Kind         EffectKind
	Amount       int64
	Months       int32
	Reason       jiexuv1.RejectReason
	ReturnReason jiexuv1.ReturnReason
	Detail       string
}

func (e Effect) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Reason != 0 {
		b.WriteString(" " + label(e.Reason.String(), "REJECT_REASON_"))
	}
	if e.ReturnReason != 0 {
		b.WriteString(" " + label(e.ReturnReason.String(), "RETURN_REASON_"))
	}
	if e.Kind == SendFunds || e.Kind == SendConfirmation || e.Kind == SendReturn || e.Kind == TransferOut ||
		e.Kind == Restore || e.Kind == HoldReturned || e.Kind == Hold || e.Kind == Credit {
		fmt.Fprintf(&b, " %s", rules.AmountFigures(e.Amount))
	}
	if e.Kind == AddMonths {
		fmt.Fprintf(&b, " %d", e.Months)
	}
	return b.String()
}

func label(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

// The errors Step returns; the node turns them into gRPC status once.
var (
	// ErrUnexpected is returned when an event cannot happen to a case in
	// its state: a message out of protocol, or a local action on a case
	// that has moved on.
	ErrUnexpected = errors.New("event does not fit the case's state")
	// ErrNotEnrolledHere is returned when an application names a person
	// without an enrolment here that allows it.
	ErrNotEnrolledHere = errors.New("the person has no enrolment here that allows this application")
	// ErrNameMismatch is returned when an application's name differs from the record's.
	ErrNameMismatch = errors.New("the name does not match this node's enrolment record for the ID number")
	// ErrCaseOpen is returned when the person already has an open case here.
	ErrCaseOpen = errors.New("the person already has an open transfer case here")
	// ErrTooLate is returned when a withdrawal or refusal comes after the
	// origin has acted or the case has ended.
	ErrTooLate = errors.New("too late: the case has moved on")
	// ErrWrongSide is returned for an event of the other side.
	ErrWrongSide = errors.New("event belongs to the other side of the case")
	// ErrRetry is returned for a message that arrived before what it answers
	// was acknowledged here: the sender tries again shortly.
	ErrRetry = errors.New("not yet: what this answers is not acknowledged here; retry")
)

// States, for the tables.
const (
	none              = jiexuv1.CaseState_CASE_STATE_UNSPECIFIED // a case not yet created
	applied           = jiexuv1.CaseState_CASE_STATE_APPLIED
	notified          = jiexuv1.CaseState_CASE_STATE_NOTIFIED
	certified         = jiexuv1.CaseState_CASE_STATE_CERTIFIED
	funded            = jiexuv1.CaseState_CASE_STATE_FUNDED
	completed         = jiexuv1.CaseState_CASE_STATE_COMPLETED
	refused           = jiexuv1.CaseState_CASE_STATE_REFUSED
	received          = jiexuv1.CaseState_CASE_STATE_RECEIVED
	waiting           = jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION
	certificateSent   = jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT
	remitted          = jiexuv1.CaseState_CASE_STATE_REMITTED
	closed            = jiexuv1.CaseState_CASE_STATE_CLOSED
	requested         = jiexuv1.CaseState_CASE_STATE_REQUESTED
	withdrawn         = jiexuv1.CaseState_CASE_STATE_WITHDRAWN
	returned          = jiexuv1.CaseState_CASE_STATE_RETURNED
	confirming        = jiexuv1.CaseState_CASE_STATE_WAITING_CONFIRMATION
	destinationSide   = jiexuv1.CaseSide_CASE_SIDE_DESTINATION
	originSide        = jiexuv1.CaseSide_CASE_SIDE_ORIGIN
	stay              = jiexuv1.CaseState(-1) // the row keeps the state
	employee          = jiexuv1.Scheme_SCHEME_EMPLOYEE
	ncms              = jiexuv1.Scheme_SCHEME_NCMS
	reasonWithdrawn   = jiexuv1.RejectReason_REJECT_REASON_WITHDRAWN
	returnWithdrawn   = jiexuv1.ReturnReason_RETURN_REASON_WITHDRAWN
	returnNoAccount   = jiexuv1.ReturnReason_RETURN_REASON_NO_ACCOUNT
	returnMismatch    = jiexuv1.ReturnReason_RETURN_REASON_AMOUNT_MISMATCH
	returnNotOwed     = jiexuv1.ReturnReason_RETURN_REASON_NOT_OWED
	reasonNotEnrolled = jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED
)

// Sides lists the states each side's cases take, in the order of a normal case.
var Sides = map[jiexuv1.CaseSide][]jiexuv1.CaseState{
	destinationSide: {applied, notified, certified, funded, completed, refused, withdrawn},
	originSide:      {requested, received, waiting, confirming, certificateSent, remitted, closed, refused, withdrawn, returned},
}

// Terminal reports whether a case has ended: nothing but late duplicates
// can happen to it, and the person may open another.
func Terminal(s jiexuv1.CaseState) bool {
	switch s {
	case completed, closed, refused, withdrawn, returned:
		return true
	}
	return false
}

// EndsOnJoining reports whether a participation in scheme ends by itself
// when the person joins scheme joined elsewhere: an NCMS participation on
// joining an urban scheme (2009 §4, 2015 §1: 新农合…自动终止), a resident
// one on joining the employee scheme (2015 §1: 已参加新农合或居民医保的…
// 参加职工医保的，不再享受原参保地新农合或居民医保待遇).
func EndsOnJoining(scheme, joined jiexuv1.Scheme) bool {
	return scheme == ncms && joined != ncms && joined != 0 ||
		scheme == jiexuv1.Scheme_SCHEME_RESIDENT && joined == employee
}

// Acted reports whether the origin has transferred the period out, after
// which a withdrawal is declined instead of accepted.
func Acted(c *jiexuv1.Case) bool { return c.GetActed() }

// Owed reports whether a balance moves from an enrolment of one scheme to
// one of another: only from a personal account to a personal account
// (2009 §7; NCMS and the resident scheme have none).
func Owed(balance int64, from, to jiexuv1.Scheme) bool {
	return balance > 0 && rules.HasPersonalAccount(from) && rules.HasPersonalAccount(to)
}

// EmployeeMonths is what a certificate carries of employee-scheme years
// (2015 §3, 各地互认): an employee certificate's months paid, less
// overlap months of a double enrolment that the origin itself paid (they
// count once); a resident or NCMS certificate's employee months carried from
// earlier transfers. The destination recognises them whatever its scheme: a
// resident or NCMS period keeps them for a later employee enrolment.
func EmployeeMonths(scheme jiexuv1.Scheme, paid, recognised int32, overlap int) int32 {
	if scheme != employee {
		return max(recognised, 0)
	}
	own := max(paid-recognised, 0)
	return max(paid-min(int32(max(overlap, 0)), own), 0)
}

// guard is a named condition of a row.
type guard struct {
	name string
	ok   func(c *jiexuv1.Case, in Input) bool
}

// row is one line of a table: in one of the states, on the event, when the
// guard holds, the case moves to the state (or stays) with the effects, or
// the step fails.
type row struct {
	from []jiexuv1.CaseState
	on   Event
	when *guard
	to   jiexuv1.CaseState
	do   func(c *jiexuv1.Case, in Input) []Effect
	fail error
	// says is the row's meaning, printed in the tables.
	says string
}

func states(s ...jiexuv1.CaseState) []jiexuv1.CaseState { return s }

// Step applies one event to a case: it finds the first row of the case's
// side whose state, event and guard match, sets the case's state and flags,
// appends the step, and returns the new state and the effects to carry out.
// A new case has state UNSPECIFIED and its side set. The case is changed
// only when Step succeeds.
func Step(c *jiexuv1.Case, in Input) (jiexuv1.CaseState, []Effect, error) {
	table, ok := tables[c.GetSide()]
	if !ok {
		return 0, nil, fmt.Errorf("%w: case side %v", ErrWrongSide, c.GetSide())
	}
	r, err := match(table, c, in)
	if err != nil {
		return 0, nil, err
	}
	if r.fail != nil {
		if c.GetState() == none { // an application refused: there is no case to name
			return 0, nil, fmt.Errorf("%w: %s", r.fail, r.says)
		}
		return 0, nil, fmt.Errorf("%w: case %s is %s; %s", r.fail, c.GetCaseId(), stateName(c.GetState()), r.says)
	}
	var effects []Effect
	if r.do != nil {
		effects = r.do(c, in)
	}
	if r.to != stay {
		c.State = r.to
	}
	return c.GetState(), effects, nil
}

func match(table []row, c *jiexuv1.Case, in Input) (row, error) {
	known := false
	for _, r := range table {
		if r.on != in.Event {
			continue
		}
		known = true
		if slices.Contains(r.from, c.GetState()) && (r.when == nil || r.when.ok(c, in)) {
			return r, nil
		}
	}
	if !known {
		return row{}, fmt.Errorf("%w: %s on the %s side", ErrWrongSide, in.Event, sideName(c.GetSide()))
	}
	return row{}, fmt.Errorf("%w: case %s is %s; a %s cannot apply", ErrUnexpected, c.GetCaseId(), stateName(c.GetState()), in.Event)
}

func stateName(s jiexuv1.CaseState) string {
	if s == none {
		return "new"
	}
	return label(s.String(), "CASE_STATE_")
}

func sideName(s jiexuv1.CaseSide) string { return label(s.String(), "CASE_SIDE_") }

var tables = map[jiexuv1.CaseSide][]row{
	destinationSide: destinationTable,
	originSide:      originTable,
}
