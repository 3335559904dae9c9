package node

import (
	"crypto/hmac"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/certs"
	"jiexu/gateway"
	"jiexu/node/render"
	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// stepFailed marks a step of the state machine that refused a rolled
// case: the case's transaction is undone and an operator decides.
type stepFailed struct{ err error }

func (e *stepFailed) Error() string { return e.err.Error() }
func (e *stepFailed) Unwrap() error { return e.err }

// actedAtOrigin reports whether the origin's side of a case, as a peer
// answered it, has transferred the person out towards this destination and
// not taken the money back: its certificate is owed here, and its balance
// once remitted.
func actedAtOrigin(sc *jiexuv1.SharedCase) bool {
	if sc.GetSide() != sideOrigin || !sc.GetActed() {
		return false
	}
	switch sc.GetState() {
	case jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, jiexuv1.CaseState_CASE_STATE_REMITTED, jiexuv1.CaseState_CASE_STATE_CLOSED:
		return true
	}
	return false
}

// remittedThere reports whether the origin's remittance of a case was
// acknowledged by this node's lost incarnation (REMITTED) or confirmed by
// it (CLOSED): the origin will not send it again, so the roll-forward
// applies it. Before that (CERTIFICATE_SENT) the remittance is still in the
// origin's outbox and arrives by itself.
func remittedThere(sc *jiexuv1.SharedCase) bool {
	return sc.GetState() == jiexuv1.CaseState_CASE_STATE_REMITTED || sc.GetState() == jiexuv1.CaseState_CASE_STATE_CLOSED
}

// endedAtOrigin reports whether the origin's side of a case, as a peer
// answered it, ended without acting (refused, or withdrawn): what it sent
// this destination was a refusal, which carries no money.
func endedAtOrigin(sc *jiexuv1.SharedCase) bool {
	if sc.GetSide() != sideOrigin || sc.GetActed() {
		return false
	}
	return sc.GetState() == jiexuv1.CaseState_CASE_STATE_REFUSED || sc.GetState() == jiexuv1.CaseState_CASE_STATE_WITHDRAWN
}

// endDestination ends this destination's side of a case the origin
// refused, or that was withdrawn, without acting: the refusal the lost
// incarnation received is applied again, by the state machine's own step.
// Nothing moves but the case's state; the person is the enrolment here
// whose keyed ID number the peer sent.
func (ro *roller) endDestination(tx *bolt.Tx, peer string, c *jiexuv1.Case, sc *jiexuv1.SharedCase) error {
	if c != nil && c.GetState() != jiexuv1.CaseState_CASE_STATE_APPLIED && c.GetState() != jiexuv1.CaseState_CASE_STATE_NOTIFIED {
		return nil
	}
	n, err := ro.stepper()
	if err != nil {
		return err
	}
	was := "missing"
	if c == nil {
		person, err := ro.personOf(tx, nil, sc)
		if err != nil {
			return err
		}
		e, err := getEnrolment(tx, person)
		if err != nil {
			return err
		}
		c = &jiexuv1.Case{CaseId: sc.GetCaseId(), Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_NOTIFIED,
			OpenedAt: timestamppb.New(ro.now()), Person: e.GetPerson(), OriginRegion: peer, OriginDivision: peer,
			DestinationRegion: ro.cfg.Region, AppliedAtOrigin: caseRegion(sc.GetCaseId()) != ro.cfg.Region}
		if e == nil {
			// The record was entered after the backup: the ended case is
			// kept without the person, whom the peer named only masked.
			c.Note = fmt.Sprintf("the person (%s) has no record in this store: restored from a backup older than it", ro.masked(sc))
		}
		c.Steps = append(c.Steps, &jiexuv1.CaseStep{State: c.GetState(), At: timestamppb.New(ro.now()), Event: "RolledForward"})
		if err := ro.gw.Audit().Append(tx, gateway.CaseTransition(c.GetCaseId(), render.Label(jiexuv1.CaseState_CASE_STATE_UNSPECIFIED), render.Label(c.GetState()))); err != nil {
			return err
		}
	} else {
		was = render.Label(c.GetState())
	}
	reason := sc.GetRejectReason()
	if sc.GetState() == jiexuv1.CaseState_CASE_STATE_WITHDRAWN {
		reason = jiexuv1.RejectReason_REJECT_REASON_WITHDRAWN
	} else if reason == jiexuv1.RejectReason_REJECT_REASON_UNSPECIFIED || reason == jiexuv1.RejectReason_REJECT_REASON_WITHDRAWN {
		reason = jiexuv1.RejectReason_REJECT_REASON_OTHER
	}
	detail := fmt.Sprintf("%s ended the case (%s); rolled forward by 'jiexu node restore'", peer, render.Label(sc.GetState()))
	if err := n.step(tx, c, transfer.Input{Event: transfer.Refusal, Reason: reason, Detail: detail}, ro.now()); err != nil {
		return &stepFailed{err}
	}
	ro.recovered("case %s (%s): %s ended it (%s there); here %s → %s", c.GetCaseId(), ro.masked(sc),
		peer, render.Label(sc.GetState()), was, render.Label(c.GetState()))
	return nil
}

// lostDetail is the refusal's text for an application a restore lost.
const lostDetail = "转出地经办系统自备份恢复，未保留此转移申请，请参保人重新申请 (the origin restored its store from a backup that predates this application, and lost it: the person applies again)"

// refuseLost ends a case the destination holds as notified (its notice
// acknowledged by the lost incarnation, so never sent again) and this
// store has no record of: whatever the lost incarnation did with the
// notice went with it, messages included, so nothing moved, and the case
// would wait for good. It is refused, saying why, so that both sides end
// and the person can apply again; the report names it.
func (ro *roller) refuseLost(tx *bolt.Tx, peer string, sc *jiexuv1.SharedCase) error {
	person, err := ro.personOf(tx, nil, sc)
	if err != nil {
		return err
	}
	e, err := getEnrolment(tx, person)
	if err != nil {
		return err
	}
	now := ro.now()
	reason := jiexuv1.RejectReason_REJECT_REASON_OTHER
	c := &jiexuv1.Case{CaseId: sc.GetCaseId(), Side: sideOrigin, State: jiexuv1.CaseState_CASE_STATE_REFUSED,
		OpenedAt: timestamppb.New(now), UpdatedAt: timestamppb.New(now), Person: e.GetPerson(), OriginRegion: ro.cfg.Region,
		OriginDivision: ro.cfg.Region, DestinationRegion: peer, RejectReason: reason, RejectDetail: lostDetail,
		Note: fmt.Sprintf("%s held the case as notified; this store, restored by 'jiexu node restore', had lost it: refused so the person applies again", peer)}
	c.Steps = append(c.Steps, &jiexuv1.CaseStep{State: c.GetState(), At: timestamppb.New(now), Event: "RolledForward"})
	if err := ro.gw.Audit().Append(tx, gateway.CaseTransition(c.GetCaseId(), render.Label(jiexuv1.CaseState_CASE_STATE_UNSPECIFIED), render.Label(c.GetState()))); err != nil {
		return err
	}
	if err := putCase(tx, c); err != nil {
		return err
	}
	if err := ro.gw.Enqueue(tx, peer, methodReject, c.GetCaseId(), &jiexuv1.RejectTransferRequest{Reason: reason, Detail: lostDetail}); err != nil {
		return err
	}
	ro.recovered("case %s (%s): %s holds it as notified and this store had lost it: refused, so that it ends on both sides", c.GetCaseId(), ro.masked(sc), peer)
	ro.decide("case %s: tell %s the application at %s must be made again (it was refused: this store had lost it)", c.GetCaseId(), ro.masked(sc), peer)
	return nil
}

// caseWithCertificate returns the destination case here that holds the
// certificate numbered number, or "": one certificate transfers one
// period once, whatever ids a peer names it under.
func (ro *roller) caseWithCertificate(tx *bolt.Tx, number string) (string, error) {
	if ro.certCases == nil {
		ro.certCases = map[string]string{}
		err := tx.Bucket(bucketCases).ForEach(func(k, _ []byte) error {
			c, err := getCase(tx, string(k))
			if err == nil && c.GetSide() == sideDestination && c.GetCertificateNumber() != "" {
				ro.certCases[c.GetCertificateNumber()] = c.GetCaseId()
			}
			return err
		})
		if err != nil {
			ro.certCases = nil
			return "", err
		}
	}
	return ro.certCases[number], nil
}

// stepper returns the node the roll-forward steps destination cases with:
// the state machine's effects as the running node carries them out (the
// store is the restored copy, the outbox its gateway's), its trust roots
// and the registry snapshot's revocations.
func (ro *roller) stepper() (*Node, error) {
	if ro.node != nil {
		return ro.node, nil
	}
	ca, err := certs.LoadCertificate(ro.cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	cal := rules.DefaultCalendar()
	if ro.cfg.CalendarFile != "" {
		if cal, err = LoadCalendar(ro.cfg.CalendarFile); err != nil {
			return nil, fmt.Errorf("calendar_file: %w", err)
		}
	}
	n := &Node{cfg: ro.cfg, db: ro.db, gw: ro.gw, ca: ca, cal: cal, log: ro.log, now: ro.now, kind: ro.cfg.AgencyKind()}
	n.table = ro.gw.Directory().Table()
	n.metrics = newMetrics(n)
	ro.node = n
	return n, nil
}

// rollDestination brings this destination's side of a case forward to
// where the origin's record puts it: the origin transferred the person out
// (and remitted the balance, which this node's lost incarnation
// acknowledged). Nothing is taken on the peer's word: the certificate is
// the origin's seal, checked as a delivered one is, the person and the
// amount are the certificate's, and the case moves by the state machine's
// own steps (certificate, then remittance), so that the credit and the
// months are what the transfer in would have applied, once: a late copy
// of the original message finds the case past it and changes nothing.
func (ro *roller) rollDestination(tx *bolt.Tx, peer string, c *jiexuv1.Case, sc *jiexuv1.SharedCase) error {
	id := sc.GetCaseId()
	funds := remittedThere(sc) && sc.GetAmountFen()-sc.GetReturnedFen() > 0
	if c != nil && (c.GetState() == jiexuv1.CaseState_CASE_STATE_CERTIFIED && !funds || transfer.Terminal(c.GetState())) {
		return nil // the remittance is on its way, or the case has ended here
	}
	if sc.GetCertificate() == nil {
		ro.decide("case %s: %s transferred the person out (%s) but its answer carries no certificate: nothing credited here; ask %s's operator to deliver it again",
			id, peer, render.Label(sc.GetState()), peer)
		return nil
	}
	n, err := ro.stepper()
	if err != nil {
		return err
	}
	cert, err := n.verifyDelivered(sc.GetCertificate())
	if err != nil {
		ro.decide("case %s: the certificate in %s's answer does not verify (%v): nothing credited here; ask %s's operator",
			id, peer, rules.Clip(err.Error(), 160), peer)
		return nil
	}
	person := cert.GetPerson().GetIdNumber()
	remitted := sc.GetAmountFen() - sc.GetReturnedFen()
	var mismatch string
	switch {
	case !n.same(cert.GetOriginRegion(), peer):
		mismatch = fmt.Sprintf("the certificate was issued by %s, not %s", cert.GetOriginRegion(), peer)
	case cert.GetNumber() != sc.GetCertificateNumber():
		mismatch = fmt.Sprintf("the answer names certificate %s but carries %s", sc.GetCertificateNumber(), cert.GetNumber())
	case len(sc.GetIdHash()) > 0 && !hmac.Equal(sc.GetIdHash(), idHash(ro.idKey, person)):
		mismatch = "the certificate is for another person than the case"
	case c != nil && c.GetPerson().GetIdNumber() != "" && c.GetPerson().GetIdNumber() != person:
		mismatch = fmt.Sprintf("the certificate is for %s, the case here for %s", rules.MaskID(person), rules.MaskID(c.GetPerson().GetIdNumber()))
	case c != nil && c.GetCertificateNumber() != "" && c.GetCertificateNumber() != cert.GetNumber():
		mismatch = fmt.Sprintf("the case here has certificate %s", c.GetCertificateNumber())
	case remitted < 0 || remitted > 0 && remitted != cert.GetBalanceFen():
		mismatch = fmt.Sprintf("%s says it remitted %s, the certificate's balance is %s", peer, rules.AmountFigures(remitted), rules.AmountFigures(cert.GetBalanceFen()))
	default:
		other, err := ro.caseWithCertificate(tx, cert.GetNumber())
		if err != nil {
			return err
		}
		if other != "" && other != id {
			mismatch = fmt.Sprintf("certificate %s is the certificate of case %s here already", cert.GetNumber(), other)
		}
	}
	if mismatch != "" {
		ro.decide("case %s: %s: nothing credited here; compare with %s's operator", id, mismatch, peer)
		return nil
	}
	e, err := getEnrolment(tx, person)
	if err != nil {
		return err
	}
	now := ro.now()
	from, was := jiexuv1.CaseState_CASE_STATE_UNSPECIFIED, "missing"
	if c == nil {
		c = ro.newDestinationCase(e, cert, id, peer, now)
		if err := ro.gw.Audit().Append(tx, gateway.CaseTransition(id, render.Label(from), render.Label(c.GetState()))); err != nil {
			return err
		}
	} else {
		from, was = c.GetState(), render.Label(c.GetState())
	}
	if err := ro.stepDestination(tx, n, e, c, cert, sc.GetCertificate(), remitted, funds, now); err != nil {
		return err
	}
	note := fmt.Sprintf("rolled forward by 'jiexu node restore' from %s's record (%s there)", peer, render.Label(sc.GetState()))
	if c.GetNote() != "" { // the assessment's (an overlap of enrolments)
		note = c.GetNote() + "; " + note
	}
	c.Note = note
	if err := putCase(tx, c); err != nil {
		return err
	}
	ro.certCases[cert.GetNumber()] = id
	what := "certificate " + cert.GetNumber()
	if c.GetFunded() && c.GetState() == jiexuv1.CaseState_CASE_STATE_COMPLETED {
		what += fmt.Sprintf(", %s credited", rules.AmountFigures(c.GetAmountFen()))
	}
	ro.recovered("case %s (%s): %s transferred the person out (%s there); here %s → %s; %s",
		id, rules.MaskID(person), peer, render.Label(sc.GetState()), was, render.Label(c.GetState()), what)
	if from == c.GetState() {
		ro.decide("case %s: the roll-forward left it %s: check it with %s's operator", id, render.Label(c.GetState()), peer)
	}
	return nil
}

// newDestinationCase recreates a destination case the restored store
// lacks, as the notice or the origin's request left it: notified, with the
// person's enrolment here.
func (ro *roller) newDestinationCase(e *jiexuv1.Enrolment, cert *jiexuv1.Certificate, id, peer string, at time.Time) *jiexuv1.Case {
	division := cert.GetOriginDivision()
	if division == "" {
		division = peer
	}
	person := e.GetPerson()
	if person == nil { // no enrolment here (entered after the backup): the certificate's
		person = cert.GetPerson()
	}
	c := &jiexuv1.Case{CaseId: id, Side: sideDestination, State: jiexuv1.CaseState_CASE_STATE_NOTIFIED,
		OpenedAt: timestamppb.New(at), Person: person, OriginRegion: peer, OriginDivision: division,
		DestinationRegion: ro.cfg.Region, AppliedAtOrigin: caseRegion(id) != ro.cfg.Region}
	if p := latest(e); p.GetStatus() == statusActive {
		c.DestinationScheme, c.DestinationFrom, c.EnrolledOn = p.GetScheme(), p.GetEnrolledFrom(), p.GetRegisteredOn()
	}
	c.Steps = append(c.Steps, &jiexuv1.CaseStep{State: c.GetState(), At: timestamppb.New(at), Event: "RolledForward"})
	return c
}

// stepDestination takes the case through the certificate and, when the
// origin's remittance will not come again, the remittance. A balance that
// cannot be credited here now is not sent back to an origin that has
// closed its side: it is held on the case (FUNDED, as a remittance that
// arrives before its certificate is), or left for the operator.
func (ro *roller) stepDestination(tx *bolt.Tx, n *Node, e *jiexuv1.Enrolment, c *jiexuv1.Case, cert *jiexuv1.Certificate,
	sealed *jiexuv1.SealedCertificate, remitted int64, funds bool, at time.Time) error {
	step := func(err error) error {
		if err != nil {
			return &stepFailed{err}
		}
		return nil
	}
	in := n.facts(e, transfer.Input{Event: transfer.Funds, Amount: remitted}, "", "")
	switch c.GetState() {
	case jiexuv1.CaseState_CASE_STATE_APPLIED, jiexuv1.CaseState_CASE_STATE_NOTIFIED:
		if !funds && latest(e).GetStatus() != statusActive {
			// Nothing to hold, and no period here to assess the certificate
			// against: the case keeps it until the record is entered.
			c.CertificateNumber = cert.GetNumber()
			ro.decide("case %s: %s has no active period here (a record entered after the backup?): enter the person's record (jiexu records put / import) and the certificate %s kept with the case is applied",
				c.GetCaseId(), rules.MaskID(cert.GetPerson().GetIdNumber()), cert.GetNumber())
			return putProto(tx, bucketCertificates, []byte(cert.GetNumber()), sealed)
		}
		if funds && !in.Account {
			if err := step(n.step(tx, c, in, at)); err != nil {
				return err
			}
			c.CertificateNumber = cert.GetNumber()
			ro.decide("case %s: %s is held on the case for %s, who has no active period with a personal account here (a record entered after the backup?): enter the person's record (jiexu records put / import) and the certificate kept with the case is applied and the balance credited",
				c.GetCaseId(), rules.AmountFigures(remitted), rules.MaskID(cert.GetPerson().GetIdNumber()))
			return putProto(tx, bucketCertificates, []byte(cert.GetNumber()), sealed)
		}
		if err := step(n.stepCertificate(tx, c, cert, sealed, at)); err != nil {
			return err
		}
	case jiexuv1.CaseState_CASE_STATE_FUNDED:
		return step(n.stepCertificate(tx, c, cert, sealed, at))
	}
	if !funds || c.GetState() != jiexuv1.CaseState_CASE_STATE_CERTIFIED {
		return nil
	}
	if !in.Account || remitted != c.GetExpectedAmountFen() {
		ro.decide("case %s: %s remitted %s, which cannot be credited here (%s expected, account: %t): the case stays certified; settle it with %s's operator",
			c.GetCaseId(), c.GetOriginRegion(), rules.AmountFigures(remitted), rules.AmountFigures(c.GetExpectedAmountFen()), in.Account, c.GetOriginRegion())
		return nil
	}
	return step(n.step(tx, c, in, at))
}
