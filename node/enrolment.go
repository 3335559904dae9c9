package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/node/render"
	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

const (
	statusActive      = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE
	statusSuspended   = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED
	statusEnded       = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ENDED
	statusTransferred = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_TRANSFERRED_OUT
)

// latest returns a person's last period, or nil.
func latest(e *jiexuv1.Enrolment) *jiexuv1.Period {
	if ps := e.GetPeriods(); len(ps) > 0 {
		return ps[len(ps)-1]
	}
	return nil
}

// periodOfCase returns the period a case moved out, or nil.
func periodOfCase(e *jiexuv1.Enrolment, caseID string) *jiexuv1.Period {
	for _, p := range e.GetPeriods() {
		if p.GetCaseId() == caseID {
			return p
		}
	}
	return nil
}

// standing says what this node holds for a person, for the transfer's
// guards: name is the name an application or notice gives, other the id of
// an open case here other than the one at hand.
func standing(e *jiexuv1.Enrolment, name, other string) transfer.Standing {
	p := latest(e)
	switch {
	case p == nil:
		return transfer.NotEnrolled
	case name != "" && e.GetPerson().GetName() != name:
		return transfer.NameMismatch
	case other != "":
		return transfer.OtherCase
	}
	switch p.GetStatus() {
	case statusActive:
		return transfer.Active
	case statusSuspended:
		return transfer.Suspended
	}
	return transfer.Gone
}

// periodOf makes a period from a record.
func periodOf(r *jiexuv1.Record, number uint32) *jiexuv1.Period {
	return &jiexuv1.Period{
		Number:       number,
		Scheme:       r.GetScheme(),
		Division:     r.GetDivision(),
		EnrolledFrom: r.GetEnrolledFrom(),
		MonthsPaid:   r.GetMonthsPaid(),
		BalanceFen:   r.GetBalanceFen(),
		Status:       statusActive,
		GapBackPaid:  r.GetGapBackPaid(),
		RegisteredOn: r.GetRegisteredOn(),
		BenefitsFrom: r.GetBenefitsFrom(),
	}
}

// recordOutcome is what storing one record did: the change, the
// certificate issued if the record suspended the period, and what an
// operator should check.
type recordOutcome struct {
	change   recordChange
	sc       *jiexuv1.SealedCertificate
	warnings []string
}

// recordChange is what storing one record did.
type recordChange int

const (
	recordUnchanged recordChange = iota
	recordCreated
	recordUpdated
)

// errRefused is the sentinel of a record the node will not store; the
// message says why and what to do.
var errRefused = errors.New("refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errRefused}, args...)...)
}

// putRecord stores one record in tx: a new person, a new period for a
// person whose last period ended here, or a change to the active period. A
// SUSPENDED record suspends the period it describes (issuing the
// certificate). A period that was suspended, transferred out or ended is
// never changed: such a record is refused with the reason.
func (n *Node) putRecord(tx *bolt.Tx, r *jiexuv1.Record, now time.Time) (recordOutcome, error) {
	id := r.GetPerson().GetIdNumber()
	e, err := getEnrolment(tx, id)
	if err != nil {
		return recordOutcome{}, err
	}
	suspend := r.GetStatus() == statusSuspended
	if e == nil {
		e = &jiexuv1.Enrolment{Person: r.GetPerson(), Periods: []*jiexuv1.Period{periodOf(r, 1)}}
		return n.finishRecord(tx, e, r, recordCreated, suspend, now)
	}
	last := latest(e)
	from := rules.MonthIndex(r.GetEnrolledFrom())
	if ps := e.GetPeriods(); len(ps) > 1 && last.GetStatus() == statusActive {
		if prev := ps[len(ps)-2]; from <= rules.MonthIndex(prev.GetEnrolledTo()) {
			return recordOutcome{}, refuse("enrolled_from %s falls within period %d (%s to %s), which is %s; the active period starts after %s",
				ym(r.GetEnrolledFrom()), prev.GetNumber(), ym(prev.GetEnrolledFrom()), ym(prev.GetEnrolledTo()),
				render.Label(prev.GetStatus()), ym(prev.GetEnrolledTo()))
		}
	}
	switch last.GetStatus() {
	case statusActive:
		if cid := openCase(tx, id); cid != "" {
			c, err := getCase(tx, cid)
			if err != nil {
				return recordOutcome{}, err
			}
			if from != rules.MonthIndex(last.GetEnrolledFrom()) || suspend && c.GetSide() == sideDestination {
				return recordOutcome{}, refuse("the person has open transfer case %s: while it runs, the active period may change its figures but not its first month, nor be suspended where it is credited; withdraw the case or wait for it to end (jiexu transfer status %s)", cid, cid)
			}
		}
		// What jiexu itself recorded of the period stays: the months and
		// continuity transfers brought in, money held, the case.
		p := periodOf(r, last.GetNumber())
		p.MonthsRecognised, p.HeldFen, p.ContinuousFrom, p.CaseId = last.GetMonthsRecognised(), last.GetHeldFen(), last.GetContinuousFrom(), last.GetCaseId()
		p.Note, p.CreditedFen = last.GetNote(), last.GetCreditedFen()
		if p.RegisteredOn == nil {
			p.RegisteredOn = last.GetRegisteredOn()
		}
		if p.BenefitsFrom == nil {
			p.BenefitsFrom = last.GetBenefitsFrom()
		}
		if !suspend && proto.Equal(e.GetPerson(), r.GetPerson()) && samePeriod(p, last) {
			return recordOutcome{change: recordUnchanged}, nil
		}
		var warnings []string
		if credited := last.GetCreditedFen(); credited > 0 && p.GetBalanceFen() < last.GetBalanceFen() {
			warnings = append(warnings, fmt.Sprintf("balance lowered from %s to %s, although transfer %s credited %s since the last update: check that your system booked it before this row was exported (jiexu records show --id %s)",
				rules.AmountFigures(last.GetBalanceFen()), rules.AmountFigures(p.GetBalanceFen()), last.GetCaseId(), rules.AmountFigures(credited), rules.MaskID(id)))
		}
		p.CreditedFen = 0 // the bureau's system has spoken for the balance
		e.Person = r.GetPerson()
		e.Periods[len(e.Periods)-1] = p
		out, err := n.finishRecord(tx, e, r, recordUpdated, suspend, now)
		if err != nil {
			return out, err
		}
		out.warnings = append(warnings, out.warnings...)
		if p.GetGapBackPaid() && !last.GetGapBackPaid() {
			if err := n.reassess(tx, e, p, now); err != nil {
				return recordOutcome{}, err
			}
		}
		return out, nil
	case statusSuspended:
		if from == rules.MonthIndex(last.GetEnrolledFrom()) {
			if suspend && proto.Equal(r.GetEnrolledTo(), last.GetEnrolledTo()) && r.GetMonthsPaid() == last.GetMonthsPaid() &&
				r.GetBalanceFen() == last.GetBalanceFen() {
				return recordOutcome{change: recordUnchanged}, nil
			}
			return recordOutcome{}, refuse("period %d (from %s) was suspended on %s with certificate %s; its figures no longer change. To cancel the suspension: jiexu records resume --id %s",
				last.GetNumber(), ym(last.GetEnrolledFrom()), render.FmtDate(last.GetSuspendedOn()), last.GetCertificateNumber(), rules.MaskID(id))
		}
		// The person came back before any transfer: the suspended period
		// continues (its balance and months are this region's record), so
		// the suspension is cancelled rather than a new period started.
		return recordOutcome{}, refuse("period %d is suspended (certificate %s) and no transfer used it: if the person enrolled here again, cancel the suspension (jiexu records resume --id %s), then update the period",
			last.GetNumber(), last.GetCertificateNumber(), rules.MaskID(id))
	default: // transferred out or ended: final
		if from <= rules.MonthIndex(last.GetEnrolledTo()) {
			what := fmt.Sprintf("was transferred out (case %s)", last.GetCaseId())
			if last.GetStatus() == statusEnded {
				what = "ended"
			}
			return recordOutcome{}, refuse("period %d (%s to %s) %s: its months and balance are no longer here, and it never becomes active again. A person who comes back is enrolled in a new period from a month after %s",
				last.GetNumber(), ym(last.GetEnrolledFrom()), ym(last.GetEnrolledTo()), what, ym(last.GetEnrolledTo()))
		}
	}
	if c := openCase(tx, id); c != "" {
		return recordOutcome{}, refuse("the person has open transfer case %s; a new period starts after it ends (jiexu transfer status %s)", c, c)
	}
	e.Person = r.GetPerson()
	e.Periods = append(e.Periods, periodOf(r, last.GetNumber()+1))
	return n.finishRecord(tx, e, r, recordCreated, suspend, now)
}

// samePeriod compares the figures a record sets.
func samePeriod(a, b *jiexuv1.Period) bool {
	a, b = proto.Clone(a).(*jiexuv1.Period), proto.Clone(b).(*jiexuv1.Period)
	a.UpdatedAt, b.UpdatedAt = nil, nil
	return proto.Equal(a, b)
}

// finishRecord stores the enrolment, suspending the last period first when
// the record says so.
func (n *Node) finishRecord(tx *bolt.Tx, e *jiexuv1.Enrolment, r *jiexuv1.Record, change recordChange, suspend bool, now time.Time) (recordOutcome, error) {
	p := latest(e)
	p.UpdatedAt = timestamppb.New(now)
	if p.RegisteredOn == nil {
		from := r.GetEnrolledFrom()
		p.RegisteredOn = &jiexuv1.Date{Year: from.GetYear(), Month: from.GetMonth(), Day: 1}
	}
	var sc *jiexuv1.SealedCertificate
	if suspend {
		on := r.GetSuspendedOn()
		if on == nil {
			on = rules.DateOf(now)
		}
		var err error
		if sc, err = n.suspendPeriod(tx, e, r.GetEnrolledTo(), on, "", now); err != nil {
			return recordOutcome{}, err
		}
	}
	if err := putEnrolment(tx, e); err != nil {
		return recordOutcome{}, err
	}
	if suspend {
		if _, err := n.releaseWaiting(tx, e, false, now); err != nil {
			return recordOutcome{}, err
		}
	} else if p.GetStatus() == statusActive {
		if err := n.creditHeld(tx, e, now); err != nil {
			return recordOutcome{}, err
		}
	}
	return recordOutcome{change: change, sc: sc}, nil
}

// creditHeld completes the person's transfer in that 'jiexu node restore'
// left waiting with the origin's sealed certificate kept (notified, or
// holding its balance: funded) because the person had no active period
// here then: now that the record makes one, the certificate is applied as
// a delivered one is, and a held balance credited. Only a rolled-forward
// case names its certificate before the certificate step.
func (n *Node) creditHeld(tx *bolt.Tx, e *jiexuv1.Enrolment, now time.Time) error {
	id := e.GetPerson().GetIdNumber()
	cid := openCase(tx, id)
	if cid == "" {
		return nil
	}
	c, err := getCase(tx, cid)
	if err != nil || c == nil || c.GetSide() != sideDestination || c.GetCertificateNumber() == "" {
		return err
	}
	switch c.GetState() {
	case jiexuv1.CaseState_CASE_STATE_APPLIED, jiexuv1.CaseState_CASE_STATE_NOTIFIED, jiexuv1.CaseState_CASE_STATE_FUNDED:
	default:
		return nil
	}
	sealed, err := getCertificate(tx, c.GetCertificateNumber())
	if err != nil || sealed == nil {
		return err
	}
	cert, err := n.verifyDelivered(sealed)
	if err != nil || cert.GetPerson().GetIdNumber() != id {
		n.log.Warn("a held transfer in keeps its balance: its certificate no longer verifies", "case_id", cid, "err", err)
		return nil
	}
	if c.GetDestinationScheme() == 0 {
		p := latest(e)
		c.DestinationScheme, c.DestinationFrom, c.EnrolledOn = p.GetScheme(), p.GetEnrolledFrom(), p.GetRegisteredOn()
	}
	return n.stepCertificate(tx, c, cert, sealed, now)
}

// releaseWaiting steps the person's open origin case, if one waits here for
// the suspension that just happened, in the same transaction; confirmed
// says the operator vouches for it.
func (n *Node) releaseWaiting(tx *bolt.Tx, e *jiexuv1.Enrolment, confirmed bool, now time.Time) (*jiexuv1.Case, error) {
	cid := openCase(tx, e.GetPerson().GetIdNumber())
	if cid == "" {
		return nil, nil
	}
	c, err := getCase(tx, cid)
	if err != nil || c == nil || c.GetSide() != jiexuv1.CaseSide_CASE_SIDE_ORIGIN {
		return nil, err
	}
	if err := n.step(tx, c, n.facts(e, transfer.Input{Event: transfer.Suspension, Confirmed: confirmed}, "", ""), now); err != nil {
		return nil, err
	}
	return c, nil
}

// suspendPeriod suspends the last period (中止参保) with its last month and
// the day of suspension, and issues the certificate at that moment (2009
// §8, 2015 §2). The caller stores the enrolment.
func (n *Node) suspendPeriod(tx *bolt.Tx, e *jiexuv1.Enrolment, last *jiexuv1.YearMonth, on *jiexuv1.Date, note string, now time.Time) (*jiexuv1.SealedCertificate, error) {
	return n.endPeriod(tx, e, last, on, note, false, now)
}

// endPeriod suspends the last period; joined says the participation ends
// by itself because the person joined an urban scheme, so its certificate
// has no registration window.
func (n *Node) endPeriod(tx *bolt.Tx, e *jiexuv1.Enrolment, last *jiexuv1.YearMonth, on *jiexuv1.Date, note string, joined bool, now time.Time) (*jiexuv1.SealedCertificate, error) {
	p := latest(e)
	p.Status, p.EnrolledTo, p.SuspendedOn = statusSuspended, last, on
	p.Note = note
	p.UpdatedAt = timestamppb.New(now)
	sc, cert, err := n.issueCertificate(tx, e, p, joined, now)
	if err != nil {
		return nil, err
	}
	p.CertificateNumber = cert.GetNumber()
	return sc, nil
}

// suspend is the operator's suspension of a person's active period. A case
// waiting here for it then proceeds, in the same transaction.
func (n *Node) suspend(req *jiexuv1.SuspendEnrolmentRequest) (*jiexuv1.SuspendEnrolmentResponse, error) {
	id := rules.NormalizeID(req.GetIdNumber())
	now := n.now()
	on := req.GetSuspendedOn()
	if on == nil {
		on = rules.DateOf(now)
	}
	var vs violations
	n.v.checkID(&vs, "id_number", id)
	lastOK := n.v.checkYearMonth(&vs, "last_month", req.GetLastMonth(), true)
	onOK := n.v.checkDate(&vs, "suspended_on", on)
	if lastOK && onOK && rules.MonthIndex(req.GetLastMonth()) > int(on.GetYear())*12+int(on.GetMonth())-1 {
		vs.add("last_month", "%s is after the month of suspended_on %s", ym(req.GetLastMonth()), render.FmtDate(on))
	}
	if err := vs.err(); err != nil {
		return nil, err
	}
	resp := &jiexuv1.SuspendEnrolmentResponse{}
	err := n.gw.Update(func(tx *bolt.Tx) error {
		e, err := getEnrolment(tx, id)
		if err != nil {
			return err
		}
		p := latest(e)
		if cid := openCase(tx, id); cid != "" {
			if c, err := getCase(tx, cid); err != nil || c.GetSide() == sideDestination {
				return refuse("the person has open transfer-in case %s here: the enrolment it credits is not suspended while it runs; withdraw the case first (jiexu transfer withdraw %s)", cid, cid)
			}
		}
		switch {
		case p == nil:
			return fmt.Errorf("%w: no enrolment for %s here", ErrNotFound, rules.MaskID(id))
		case p.GetStatus() == statusSuspended:
			return refuse("period %d was already suspended on %s with certificate %s (jiexu cert show %s)",
				p.GetNumber(), render.FmtDate(p.GetSuspendedOn()), p.GetCertificateNumber(), p.GetCertificateNumber())
		case p.GetStatus() != statusActive:
			return refuse("period %d is %s: only an active enrolment is suspended", p.GetNumber(), render.Label(p.GetStatus()))
		case rules.MonthIndex(req.GetLastMonth()) < rules.MonthIndex(p.GetEnrolledFrom()):
			var vs violations
			vs.add("last_month", "%s is before the period's first month %s", ym(req.GetLastMonth()), ym(p.GetEnrolledFrom()))
			return vs.err()
		case span(p.GetEnrolledFrom(), req.GetLastMonth()) < int(p.GetMonthsPaid()):
			var vs violations
			vs.add("last_month", "the period from %s to %s has %d months, fewer than the %d months paid on record; update the record first",
				ym(p.GetEnrolledFrom()), ym(req.GetLastMonth()), span(p.GetEnrolledFrom(), req.GetLastMonth()), p.GetMonthsPaid())
			return vs.err()
		}
		sc, err := n.suspendPeriod(tx, e, req.GetLastMonth(), on, "", now)
		if err != nil {
			return err
		}
		if err := putEnrolment(tx, e); err != nil {
			return err
		}
		resp.Enrolment, resp.Certificate = e, sc
		// A case that waited for this suspension proceeds now: at once when
		// the operator confirms it, else once the applicant's proof arrives.
		c, err := n.releaseWaiting(tx, e, req.GetConfirmWaiting(), now)
		if c != nil {
			resp.Cases = append(resp.Cases, c)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("enrolment suspended", "id", rules.MaskID(id), "last_month", ym(req.GetLastMonth()),
		"certificate", latest(resp.GetEnrolment()).GetCertificateNumber(), "cases_proceeding", len(resp.GetCases()))
	return resp, nil
}

// resume cancels a suspension no transfer has used (恢复参保): the period is
// active again and its certificate void.
func (n *Node) resume(req *jiexuv1.ResumeEnrolmentRequest) (*jiexuv1.ResumeEnrolmentResponse, error) {
	id := rules.NormalizeID(req.GetIdNumber())
	var vs violations
	n.v.checkID(&vs, "id_number", id)
	checkText(&vs, "reason", req.GetReason(), 200)
	if err := vs.err(); err != nil {
		return nil, err
	}
	now := n.now()
	resp := &jiexuv1.ResumeEnrolmentResponse{}
	err := n.gw.Update(func(tx *bolt.Tx) error {
		if c := openCase(tx, id); c != "" {
			return refuse("the person has open transfer case %s; withdraw or refuse it first", c)
		}
		e, err := getEnrolment(tx, id)
		if err != nil {
			return err
		}
		p := latest(e)
		switch {
		case p == nil:
			return fmt.Errorf("%w: no enrolment for %s here", ErrNotFound, rules.MaskID(id))
		case p.GetStatus() != statusSuspended:
			return refuse("period %d is %s: only a suspended period that no transfer has used can be resumed", p.GetNumber(), render.Label(p.GetStatus()))
		}
		reason := req.GetReason()
		if reason == "" {
			reason = "suspension cancelled (恢复参保)"
		}
		if err := n.voidCertificate(tx, p.GetCertificateNumber(), reason, now); err != nil {
			return err
		}
		resp.VoidedCertificate = p.GetCertificateNumber()
		p.Status, p.EnrolledTo, p.SuspendedOn = statusActive, nil, nil
		p.Note = fmt.Sprintf("resumed on %s; certificate %s void: %s", render.FmtDate(rules.DateOf(now)), p.GetCertificateNumber(), reason)
		p.CertificateNumber = ""
		p.UpdatedAt = timestamppb.New(now)
		resp.Enrolment = e
		return putEnrolment(tx, e)
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("enrolment resumed", "id", rules.MaskID(id), "voided_certificate", resp.GetVoidedCertificate())
	return resp, nil
}

// payOutHeld clears money held for the person once the operator paid it
// out, and keeps how on the period's note.
func (n *Node) payOutHeld(req *jiexuv1.PayOutHeldRequest) (*jiexuv1.PayOutHeldResponse, error) {
	id := rules.NormalizeID(req.GetIdNumber())
	var vs violations
	n.v.checkID(&vs, "id_number", id)
	if req.GetPeriod() == 0 {
		vs.add("period", "is required: the period's number, as 'records show' lists it")
	}
	if req.GetAmountFen() <= 0 {
		vs.add("amount_fen", "must be the period's held amount, more than 0")
	}
	checkText(&vs, "how", req.GetHow(), 200)
	if strings.TrimSpace(req.GetHow()) == "" {
		vs.add("how", "is required: how and when the money was paid to the person")
	}
	if err := vs.err(); err != nil {
		return nil, err
	}
	now := n.now()
	resp := &jiexuv1.PayOutHeldResponse{}
	err := n.gw.Update(func(tx *bolt.Tx) error {
		e, err := getEnrolment(tx, id)
		if err != nil {
			return err
		}
		var p *jiexuv1.Period
		for _, q := range e.GetPeriods() {
			if q.GetNumber() == req.GetPeriod() {
				p = q
			}
		}
		switch {
		case p == nil:
			return fmt.Errorf("%w: no period %d for %s here", ErrNotFound, req.GetPeriod(), rules.MaskID(id))
		case p.GetHeldFen() == 0:
			return refuse("period %d holds nothing for the person", p.GetNumber())
		case p.GetHeldFen() != req.GetAmountFen():
			return refuse("period %d holds %s, not %s: pay out what is held, all of it", p.GetNumber(),
				rules.AmountFigures(p.GetHeldFen()), rules.AmountFigures(req.GetAmountFen()))
		}
		p.Note = fmt.Sprintf("%s paid out on %s: %s", rules.AmountFigures(p.GetHeldFen()), render.FmtDate(rules.DateOf(now)), req.GetHow())
		p.HeldFen = 0
		p.UpdatedAt = timestamppb.New(now)
		resp.Enrolment = e
		return putEnrolment(tx, e)
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("held money paid out", "id", rules.MaskID(id), "period", req.GetPeriod(), "fen", req.GetAmountFen())
	return resp, nil
}

// certificateVoid is what the issuer records of a certificate it voided.
type certificateVoid struct {
	On     string `json:"on"` // YYYY-MM-DD
	Reason string `json:"reason"`
}

func (n *Node) voidCertificate(tx *bolt.Tx, number, reason string, now time.Time) error {
	if number == "" {
		return nil
	}
	data, err := json.Marshal(certificateVoid{On: now.In(rules.CST).Format(time.DateOnly), Reason: reason})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketCertificateVoids).Put([]byte(number), data)
}

// isVoided reports whether a certificate issued here was voided.
func isVoided(tx *bolt.Tx, number string) bool {
	return tx.Bucket(bucketCertificateVoids).Get([]byte(number)) != nil
}

// certificateVoided returns when and why a certificate issued here was
// voided, or nil.
func certificateVoided(tx *bolt.Tx, number string) (*jiexuv1.Date, string) {
	v := tx.Bucket(bucketCertificateVoids).Get([]byte(number))
	if v == nil {
		return nil, ""
	}
	var cv certificateVoid
	if json.Unmarshal(v, &cv) != nil {
		return nil, ""
	}
	d, err := time.ParseInLocation(time.DateOnly, cv.On, rules.CST)
	if err != nil {
		return nil, cv.Reason
	}
	return rules.DateOf(d), cv.Reason
}

// span counts the months from one month to another, both included.
func span(from, to *jiexuv1.YearMonth) int { return rules.ContinuousMonths(from, to) }

func ym(m *jiexuv1.YearMonth) string {
	if m == nil {
		return "—"
	}
	return fmt.Sprintf("%04d-%02d", m.GetYear(), m.GetMonth())
}
