package node

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/gateway"
	"jiexu/node/render"
	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Full method names of the inter-node calls the outbox carries.
const (
	methodNotify   = jiexuv1.TransferService_NotifyTransfer_FullMethodName
	methodReject   = jiexuv1.TransferService_RejectTransfer_FullMethodName
	methodRequest  = jiexuv1.TransferService_RequestTransfer_FullMethodName
	methodWithdraw = jiexuv1.TransferService_WithdrawTransfer_FullMethodName
	methodDeliver  = jiexuv1.CertificateService_DeliverCertificate_FullMethodName
	methodRemit    = jiexuv1.RemittanceService_Remit_FullMethodName
	methodConfirm  = jiexuv1.RemittanceService_ConfirmRemittance_FullMethodName
	methodReturn   = jiexuv1.RemittanceService_ReturnRemittance_FullMethodName
)

const (
	sideDestination = jiexuv1.CaseSide_CASE_SIDE_DESTINATION
	sideOrigin      = jiexuv1.CaseSide_CASE_SIDE_ORIGIN
)

// caseIDPattern is the form of a case id: the opening region, the day and a
// sequence, e.g. 150700-20261125-000001.
var caseIDPattern = regexp.MustCompile(`^[0-9]{6}-[0-9]{8}-[0-9]{6,}$`)

// caseRegion is the region a case id names: the one that opened the case.
func caseRegion(id string) string {
	if len(id) < 6 {
		return ""
	}
	return id[:6]
}

func (n *Node) newCaseID(tx *bolt.Tx, now time.Time) (string, error) {
	day := now.In(rules.CST).Format("20060102")
	seq, err := nextCounter(tx, "case/"+day)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%s-%06d", n.cfg.Region, day, seq), nil
}

// counterparty is the region a case is shared with.
func counterparty(c *jiexuv1.Case) string {
	if c.GetSide() == sideDestination {
		return c.GetOriginRegion()
	}
	return c.GetDestinationRegion()
}

// event is a state machine input with what the node knows beyond it: a
// verified certificate that arrived.
type event struct {
	transfer.Input
	cert   *jiexuv1.Certificate
	sealed *jiexuv1.SealedCertificate
}

// stepper carries out one step's effects inside its transaction, loading
// the person's enrolment once and storing it once.
type stepper struct {
	n     *Node
	tx    *bolt.Tx
	c     *jiexuv1.Case
	ev    event
	now   time.Time
	enrol *jiexuv1.Enrolment
	dirty bool
}

// step runs one event on a case and carries out its effects in tx: the
// messages it sends are queued and the person's enrolment changes, together
// with the case, or not at all.
func (n *Node) step(tx *bolt.Tx, c *jiexuv1.Case, in transfer.Input, now time.Time) error {
	return n.stepEvent(tx, c, event{Input: in}, now)
}

func (n *Node) stepEvent(tx *bolt.Tx, c *jiexuv1.Case, ev event, now time.Time) error {
	from := c.GetState()
	_, effects, err := transfer.Step(c, ev.Input)
	if err != nil {
		return err
	}
	s := &stepper{n: n, tx: tx, c: c, ev: ev, now: now}
	for _, e := range effects {
		if err := s.carry(e); err != nil {
			return fmt.Errorf("case %s: %s: %w", c.GetCaseId(), e, err)
		}
	}
	if s.dirty {
		if err := putEnrolment(tx, s.enrol); err != nil {
			return err
		}
	}
	n.setDeadlines(c, from, ev.Event, now)
	if c.GetState() != from {
		if err := n.gw.Audit().Append(tx, gateway.CaseTransition(c.GetCaseId(), render.Label(from), render.Label(c.GetState()))); err != nil {
			return err
		}
		c.Steps = append(c.Steps, &jiexuv1.CaseStep{State: c.GetState(), At: timestamppb.New(now), Event: ev.Event.String()})
		caseID, side, to := c.GetCaseId(), c.GetSide(), c.GetState()
		origin, dest := c.GetOriginRegion(), c.GetDestinationRegion()
		opened := c.GetOpenedAt().AsTime()
		tx.OnCommit(func() {
			n.log.Info("case transition", "case_id", caseID, "side", render.Label(side), "from", render.Label(from),
				"to", render.Label(to), "event", ev.Event.String(), "origin", origin, "destination", dest)
			n.metrics.transition(side, from, to, now.Sub(opened))
		})
	}
	c.UpdatedAt = timestamppb.New(now)
	return putCase(tx, c)
}

// setDeadlines starts the working-day clocks of the 2021 rule when the
// events that start them happen.
func (n *Node) setDeadlines(c *jiexuv1.Case, from jiexuv1.CaseState, ev transfer.Event, now time.Time) {
	due := func(days int) *jiexuv1.Date {
		d, certain := n.cal.AddWorkdaysCertain(now, days)
		c.DeadlineUncertain = c.GetDeadlineUncertain() || !certain
		return rules.DateOf(d)
	}
	switch {
	case ev == transfer.Notice && (from == jiexuv1.CaseState_CASE_STATE_UNSPECIFIED || from == jiexuv1.CaseState_CASE_STATE_REQUESTED),
		ev == transfer.ApplyOut && from == jiexuv1.CaseState_CASE_STATE_UNSPECIFIED:
		c.TransferOutDue = due(rules.TransferOutDays) // the origin's 10 days start with the notice, or the application here
	case (ev == transfer.Apply || ev == transfer.Request) && from == jiexuv1.CaseState_CASE_STATE_UNSPECIFIED,
		ev == transfer.NoticeAcked && from == jiexuv1.CaseState_CASE_STATE_APPLIED:
		// The origin's clock as the destination sees it: from the application,
		// then from the origin's receipt of the notice.
		c.TransferOutDue = due(rules.TransferOutDays)
	case ev == transfer.Certificate && c.GetCertified() && c.GetTransferInDue() == nil:
		c.TransferInDue = due(rules.TransferInDays)
	case ev == transfer.Funds && c.GetFunded() && c.GetCreditDue() == nil:
		c.CreditDue = due(rules.CreditDays)
	}
}

// enrolment loads the case's person's enrolment once per step.
func (s *stepper) enrolment() (*jiexuv1.Enrolment, error) {
	if s.enrol == nil {
		e, err := getEnrolment(s.tx, s.c.GetPerson().GetIdNumber())
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("%w: no enrolment here for the person of case %s", ErrMismatch, s.c.GetCaseId())
		}
		s.enrol = e
	}
	return s.enrol, nil
}

func (s *stepper) send(peer, method string, msg gateway.Message) error {
	return s.n.gw.Enqueue(s.tx, peer, method, s.c.GetCaseId(), msg)
}

// carry does one effect.
func (s *stepper) carry(e transfer.Effect) error {
	c, n := s.c, s.n
	switch e.Kind {
	case transfer.SendNotice:
		enr, err := s.enrolment()
		if err != nil {
			return err
		}
		p := latest(enr)
		return s.send(c.GetOriginRegion(), methodNotify, &jiexuv1.NotifyTransferRequest{
			Person: enr.GetPerson(), DestinationScheme: p.GetScheme(), OriginDivision: c.GetOriginDivision(),
			EnrolledOn: p.GetRegisteredOn(), DestinationFrom: p.GetEnrolledFrom(),
			CertificateNumber: c.GetPresentedCertificate(), VerificationCode: c.GetPresentedCode(),
			OriginInsuranceNumber: c.GetPresentedInsuranceNumber(),
		})
	case transfer.SendRequest:
		return s.send(c.GetDestinationRegion(), methodRequest, &jiexuv1.RequestTransferRequest{
			Person: c.GetPerson(), DestinationDivision: c.GetDestinationRegion(),
		})
	case transfer.SendCertificate:
		enr, err := s.enrolment()
		if err != nil {
			return err
		}
		p := periodOfCase(enr, c.GetCaseId())
		sc, err := getCertificate(s.tx, p.GetCertificateNumber())
		if err != nil || sc == nil {
			return fmt.Errorf("certificate %q of period %d: %v", p.GetCertificateNumber(), p.GetNumber(), err)
		}
		c.CertificateNumber = p.GetCertificateNumber()
		c.MonthsPaid = p.GetMonthsPaid()
		return s.send(c.GetDestinationRegion(), methodDeliver, &jiexuv1.DeliverCertificateRequest{Certificate: sc})
	case transfer.SendFunds:
		return s.send(c.GetDestinationRegion(), methodRemit, &jiexuv1.RemitRequest{
			IdNumber: c.GetPerson().GetIdNumber(), AmountFen: e.Amount, CertificateNumber: c.GetCertificateNumber(),
		})
	case transfer.SendConfirmation:
		return s.send(c.GetOriginRegion(), methodConfirm, &jiexuv1.ConfirmRemittanceRequest{AmountFen: e.Amount})
	case transfer.SendRefusal:
		return s.send(counterparty(c), methodReject, &jiexuv1.RejectTransferRequest{Reason: e.Reason, Detail: e.Detail})
	case transfer.SendWithdrawal:
		return s.send(c.GetOriginRegion(), methodWithdraw, &jiexuv1.WithdrawTransferRequest{Detail: e.Detail})
	case transfer.SendReturn:
		return s.send(c.GetOriginRegion(), methodReturn, &jiexuv1.ReturnRemittanceRequest{
			AmountFen: e.Amount, Reason: e.ReturnReason, Detail: e.Detail,
		})
	case transfer.EndOnJoining:
		return s.endOnJoining()
	case transfer.TransferOut:
		enr, err := s.enrolment()
		if err != nil {
			return err
		}
		p := latest(enr)
		if p.GetStatus() != statusSuspended {
			return fmt.Errorf("%w: period %d is %s, not suspended", ErrMismatch, p.GetNumber(), render.Label(p.GetStatus()))
		}
		p.Status, p.CaseId = statusTransferred, c.GetCaseId()
		p.BalanceFen -= e.Amount
		p.HeldFen += p.GetBalanceFen()
		p.BalanceFen = 0
		p.Note = fmt.Sprintf("transferred out to %s on %s (case %s)", c.GetDestinationRegion(), render.FmtDate(rules.DateOf(s.now)), c.GetCaseId())
		p.UpdatedAt = timestamppb.New(s.now)
		s.dirty = true
		if amount := e.Amount; amount > 0 {
			s.tx.OnCommit(func() { n.metrics.remittedFen.Add(float64(amount)) })
		}
	case transfer.Restore, transfer.HoldReturned:
		enr, err := s.enrolment()
		if err != nil {
			return err
		}
		p := periodOfCase(enr, c.GetCaseId())
		if p == nil {
			return fmt.Errorf("%w: no period was transferred out by case %s", ErrMismatch, c.GetCaseId())
		}
		p.UpdatedAt = timestamppb.New(s.now)
		s.dirty = true
		if e.Kind == transfer.HoldReturned {
			p.HeldFen += e.Amount
			p.Note = fmt.Sprintf("transferred out to %s (case %s); %s came back and is held here for the person",
				c.GetDestinationRegion(), c.GetCaseId(), rules.AmountFigures(e.Amount))
			return nil
		}
		if p != latest(enr) { // the person enrolled here again meanwhile: keep the money for them
			p.Status, p.HeldFen = statusEnded, p.GetHeldFen()+e.Amount
			p.Note = fmt.Sprintf("transfer %s withdrawn after the person enrolled here again; %s held for the person", c.GetCaseId(), rules.AmountFigures(p.GetHeldFen()))
			return nil
		}
		p.Status, p.CaseId = statusSuspended, ""
		p.BalanceFen, p.HeldFen = p.GetHeldFen()+e.Amount, 0
		p.Note = fmt.Sprintf("transfer %s to %s withdrawn; suspended again with certificate %s", c.GetCaseId(), c.GetDestinationRegion(), p.GetCertificateNumber())
	case transfer.Hold:
		// The amount is held on the case (amount_fen, state FUNDED).
	case transfer.Credit:
		p, err := s.activePeriod()
		if err != nil {
			return err
		}
		p.BalanceFen += e.Amount
		p.CreditedFen += e.Amount
		amount := e.Amount
		s.tx.OnCommit(func() { n.metrics.receivedFen.Add(float64(amount)) })
	case transfer.AddMonths:
		p, err := s.activePeriod()
		if err != nil {
			return err
		}
		total := int64(p.GetMonthsRecognised()) + int64(e.Months)
		if most := rules.MonthsSinceBirth(c.GetPerson().GetIdNumber(), s.now); total > int64(most) {
			return fmt.Errorf("%w: %d months recognised in all would exceed the person's age (%d months)", ErrMismatch, total, most)
		}
		p.MonthsRecognised = int32(total)
	case transfer.Assess:
		return s.assess()
	default:
		return fmt.Errorf("unknown effect %v", e.Kind)
	}
	return nil
}

// activePeriod is the destination's active period of the case's person.
func (s *stepper) activePeriod() (*jiexuv1.Period, error) {
	enr, err := s.enrolment()
	if err != nil {
		return nil, err
	}
	p := latest(enr)
	if p.GetStatus() != statusActive {
		return nil, fmt.Errorf("%w: the person's period here is %s", ErrMismatch, render.Label(p.GetStatus()))
	}
	p.UpdatedAt = timestamppb.New(s.now)
	s.dirty = true
	return p, nil
}

// endOnJoining ends an active participation that ends by itself because
// the person joined elsewhere (transfer.EndsOnJoining): its last month is
// the month before the new enrolment began, so that no month is enrolled
// and paid twice (2009 §2: 不得同时参加和重复享受待遇), and its certificate
// is issued now, with no window to register in.
func (s *stepper) endOnJoining() error {
	enr, err := s.enrolment()
	if err != nil {
		return err
	}
	p := latest(enr)
	last := s.c.GetDestinationFrom()
	if last == nil {
		last = rules.YearMonthOf(s.now)
	}
	lastIdx := rules.MonthIndex(last) - 1
	lastIdx = max(min(lastIdx, rules.MonthIndex(rules.YearMonthOf(s.now))), rules.MonthIndex(p.GetEnrolledFrom()))
	lastMonth := &jiexuv1.YearMonth{Year: int32(lastIdx / 12), Month: int32(lastIdx%12 + 1)}
	note := fmt.Sprintf("新农合参合自动终止：参加%s城镇基本医疗保险 (NCMS participation ended on joining an urban scheme at %s)",
		s.c.GetDestinationRegion(), s.c.GetDestinationRegion())
	if p.GetScheme() == jiexuv1.Scheme_SCHEME_RESIDENT {
		note = fmt.Sprintf("居民医保参保自动终止：在%s参加职工医保 (resident enrolment ended on joining the employee scheme at %s, 2015 §1)",
			s.c.GetDestinationRegion(), s.c.GetDestinationRegion())
	}
	p.MonthsPaid = min(p.GetMonthsPaid(), int32(span(p.GetEnrolledFrom(), lastMonth)))
	if _, err := s.n.endPeriod(s.tx, enr, lastMonth, rules.DateOf(s.now), note, true, s.now); err != nil {
		return err
	}
	s.dirty = true
	return nil
}

// assess computes, at the destination, what the certificate means for the
// person enrolled here: the registration window, the gap between the
// origin's 参保止 and the destination's 参保起, and the waiting period.
func (s *stepper) assess() error {
	c, cert, n := s.c, s.ev.cert, s.n
	if cert == nil {
		return errors.New("assess: no certificate")
	}
	if err := putProto(s.tx, bucketCertificates, []byte(cert.GetNumber()), s.ev.sealed); err != nil {
		return err
	}
	c.CertificateNumber = cert.GetNumber()
	enr, err := s.enrolment()
	if err != nil {
		return err
	}
	p := latest(enr)
	if p.GetStatus() != statusActive {
		n.assessCase(c, cert, false)
		return nil
	}
	n.assessCase(c, cert, p.GetGapBackPaid())
	p.CaseId = c.GetCaseId()
	applyAssessment(p, c, cert, nil)
	p.UpdatedAt = timestamppb.New(s.now)
	s.dirty = true
	return nil
}

// applyAssessment records on the destination's active period what the
// assessment of a transfer in means for it. The enrolment here continues
// the one at the origin when no gap (or a bridged one) lies between them:
// what the scheme-switch rule counts. Benefits start after the waiting
// period, unless the bureau's system said when (a value other than
// derived, the start jiexu worked out before).
func applyAssessment(p *jiexuv1.Period, c *jiexuv1.Case, cert *jiexuv1.Certificate, derived *jiexuv1.YearMonth) {
	if c.GetGapMonths() == 0 || c.GetGapMonths() <= rules.RegisterWithinMonths && p.GetGapBackPaid() {
		from := cert.GetContinuousFrom()
		if from == nil {
			from = cert.GetEnrolledFrom()
		}
		if from != nil && (p.GetContinuousFrom() == nil || rules.MonthIndex(from) < rules.MonthIndex(p.GetContinuousFrom())) {
			p.ContinuousFrom = from
		}
	}
	if b := p.GetBenefitsFrom(); b == nil || proto.Equal(b, derived) {
		p.BenefitsFrom = benefitsFrom(c)
	}
}

// benefitsFrom is the first month of benefits at the destination: the
// month of enrolment there, after the waiting period.
func benefitsFrom(c *jiexuv1.Case) *jiexuv1.YearMonth {
	from := c.GetDestinationFrom()
	if from == nil {
		return nil
	}
	i := rules.MonthIndex(from) + int(c.GetWaitingMonths())
	return &jiexuv1.YearMonth{Year: int32(i / 12), Month: int32(i%12 + 1)}
}

// reassess assesses again the transfer that brought the active period p
// in, when the bureau records afterwards that the gap was back-paid: the
// person often back-pays after the certificate has arrived, and back-pay
// waives the waiting period for a gap of up to 3 months (2015 §3).
func (n *Node) reassess(tx *bolt.Tx, e *jiexuv1.Enrolment, p *jiexuv1.Period, now time.Time) error {
	if p.GetCaseId() == "" {
		return nil
	}
	c, err := getCase(tx, p.GetCaseId())
	if err != nil || c == nil || c.GetSide() != sideDestination || c.GetCertificateNumber() == "" {
		return err
	}
	sc, err := getCertificate(tx, c.GetCertificateNumber())
	if err != nil || sc == nil {
		return err
	}
	cert, err := VerifyCertificate(sc, n.ca, nil)
	if err != nil {
		return fmt.Errorf("reassessing case %s: the stored certificate %s: %w", c.GetCaseId(), c.GetCertificateNumber(), err)
	}
	derived, before := benefitsFrom(c), c.GetWaitingMonths()
	n.assessCase(c, cert, true)
	c.WaitingReason += fmt.Sprintf("（%s记录补缴后重新核定）(assessed again on %s, when the back-pay was recorded)",
		render.FmtDate(rules.DateOf(now)), render.FmtDate(rules.DateOf(now)))
	c.UpdatedAt = timestamppb.New(now)
	applyAssessment(p, c, cert, derived)
	if err := putEnrolment(tx, e); err != nil {
		return err
	}
	n.log.Info("transfer in assessed again after back-pay", "case", c.GetCaseId(), "waiting_before", before, "waiting", c.GetWaitingMonths())
	return putCase(tx, c)
}

// assessCase fills a destination case (or an assessment with no case) from
// a certificate and the enrolment here.
func (n *Node) assessCase(c *jiexuv1.Case, cert *jiexuv1.Certificate, backPaid bool) {
	c.RegisterBy = cert.GetRegisterBy()
	if cert.GetEndedOnJoining() { // the participation ended because the person enrolled here
		c.RegisterBy, c.RegisterByUncertain, c.RegisteredInTime = nil, false, true
	} else if on := cert.GetSuspendedOn(); on != nil {
		by, certain := n.cal.RegisterBy(rules.DateTime(on))
		c.RegisterBy = rules.DateOf(by) // this node's calendar, which may know more holidays than the issuer's
		c.RegisterByUncertain = !certain
	}
	if reg := c.GetEnrolledOn(); reg != nil && c.GetRegisterBy() != nil {
		c.RegisteredInTime = !rules.DateTime(reg).After(rules.DateTime(c.GetRegisterBy()))
	}
	gap := rules.GapMonths(cert.GetEnrolledTo(), c.GetDestinationFrom())
	from := cert.GetContinuousFrom()
	if from == nil {
		from = cert.GetEnrolledFrom()
	}
	// Continuity is the chain the origin sealed: each destination extends
	// it only across a transfer without a gap or with a bridged one, so a
	// resident chain of ten years counts ten years, whatever the months paid
	// in its last period (checkFigures bounds it by the person's age).
	continuous := rules.ContinuousMonths(from, cert.GetEnrolledTo())
	w := rules.DecideWaiting(cert.GetScheme(), c.GetDestinationScheme(), continuous, gap, backPaid, n.cfg.WaitingPeriodMonths)
	c.GapMonths, c.WaitingMonths, c.WaitingReason = int32(gap), int32(w.Months), w.Reason
	c.OverlapMonths = int32(overlapMonths(cert, c.GetDestinationFrom()))
	if c.GetOverlapMonths() > 0 {
		c.Note = fmt.Sprintf("参保时间重叠%d个月：转入地参保起%s不晚于转出地参保止%s，重叠月份只计一次 (enrolled at both for %d month(s): counted once; the agencies settle the double enrolment, 2009 §2)",
			c.GetOverlapMonths(), ym(c.GetDestinationFrom()), ym(cert.GetEnrolledTo()), c.GetOverlapMonths())
	}
	if !c.GetRegisteredInTime() && c.GetRegisterBy() != nil {
		c.WaitingReason += fmt.Sprintf("；登记晚于%s（中止参保后3个月，适用于无接收单位者）(registered after %s, 3 months after the suspension: the limit binds a person without a receiving employer, 2009 §6)",
			render.FmtDate(c.GetRegisterBy()), render.FmtDate(c.GetRegisterBy()))
	}
}

// facts fills the standing, scheme and balance of the person's last period.
func (n *Node) facts(e *jiexuv1.Enrolment, in transfer.Input, name, other string) transfer.Input {
	in.Standing = standing(e, name, other)
	if p := latest(e); p != nil {
		in.Scheme, in.Balance = p.GetScheme(), p.GetBalanceFen()
		in.Account = p.GetStatus() == statusActive && rules.HasPersonalAccount(p.GetScheme())
	}
	return in
}

// onAck advances a case when one of its messages is acknowledged; it runs in
// the dispatcher's transaction.
func (n *Node) onAck(tx *bolt.Tx, msg *jiexuv1.OutboxMessage) error {
	var ev transfer.Event
	switch msg.GetMethod() {
	case methodNotify:
		ev = transfer.NoticeAcked
	case methodDeliver:
		ev = transfer.CertificateAcked
	case methodRemit:
		ev = transfer.FundsAcked
	default:
		return nil
	}
	c, err := getCase(tx, msg.GetCaseId())
	if err != nil || c == nil {
		return err
	}
	return n.step(tx, c, transfer.Input{Event: ev}, n.now())
}

// caseFor finds the case a peer's message is about, enforcing who owns it:
// a message about an existing case is accepted only from the region the case
// is shared with; a message that may open a case (creates) opens it only
// under an id that names the sender. It reports whether the case is new.
func (n *Node) caseFor(tx *bolt.Tx, h *jiexuv1.MessageHeader, side jiexuv1.CaseSide, creates bool) (*jiexuv1.Case, bool, error) {
	id, sender := h.GetCaseId(), h.GetSenderRegion()
	c, err := getCase(tx, id)
	if err != nil {
		return nil, false, err
	}
	// A case not shared with the sender is answered as one that does not
	// exist: case ids are sequential, and telling them apart would show
	// any registered peer which cases this node holds and with whom.
	if c != nil && !n.same(counterparty(c), sender) {
		n.log.Warn("a peer sent a message about a case it does not share", "case", id, "sender", sender, "shared_with", counterparty(c))
	}
	if c == nil || !n.same(counterparty(c), sender) {
		switch {
		case !creates:
			return nil, false, fmt.Errorf("%w: case %s", ErrUnknownCase, id)
		case !caseIDPattern.MatchString(id):
			var vs violations
			vs.add("header.case_id", "%q is not a case id (REGION-YYYYMMDD-NNNNNN)", truncate(id))
			return nil, false, vs.err()
		case !n.same(caseRegion(id), sender):
			return nil, false, fmt.Errorf("%w: case id %s names region %s; only that region opens it", ErrNotShared, id, caseRegion(id))
		case c != nil: // the sender's own id, held here with another region
			return nil, false, fmt.Errorf("%w: case %s", ErrNotShared, id)
		}
		return &jiexuv1.Case{CaseId: id, Side: side, OpenedAt: timestamppb.New(n.now())}, true, nil
	}
	if c.GetSide() != side {
		return nil, false, fmt.Errorf("%w: case %s is this node's %s case", ErrMismatch, id, render.Label(c.GetSide()))
	}
	return c, false, nil
}

// samePerson checks that a message about an existing case names its person.
func samePerson(c *jiexuv1.Case, id string) error {
	if have := c.GetPerson().GetIdNumber(); have != "" && have != id {
		return fmt.Errorf("%w: case %s is about %s, the message about %s", ErrMismatch, c.GetCaseId(), rules.MaskID(have), rules.MaskID(id))
	}
	return nil
}

// truncate bounds what a message echoes of its input.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// overlapMonths counts the months a person was enrolled both at the origin
// (up to its 参保止) and at the destination (from its 参保起): a double
// enrolment the measures forbid (2009 §2), which must not count twice.
func overlapMonths(cert *jiexuv1.Certificate, destFrom *jiexuv1.YearMonth) int {
	if cert.GetEnrolledTo() == nil || destFrom == nil {
		return 0
	}
	return max(rules.MonthIndex(cert.GetEnrolledTo())-rules.MonthIndex(destFrom)+1, 0)
}
