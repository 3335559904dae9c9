package node

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/gateway"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Full method names of the inter-node calls the outbox carries.
const (
	methodNotify  = jiexuv1.TransferService_NotifyTransfer_FullMethodName
	methodReject  = jiexuv1.TransferService_RejectTransfer_FullMethodName
	methodRequest = jiexuv1.TransferService_RequestTransfer_FullMethodName
	methodDeliver = jiexuv1.CertificateService_DeliverCertificate_FullMethodName
	methodRemit   = jiexuv1.RemittanceService_Remit_FullMethodName
	methodConfirm = jiexuv1.RemittanceService_ConfirmRemittance_FullMethodName
)

// rank orders each side's states so that a case only moves forward, whatever
// order its messages arrive in.
var rank = map[jiexuv1.CaseState]int{
	jiexuv1.CaseState_CASE_STATE_APPLIED:          1,
	jiexuv1.CaseState_CASE_STATE_NOTIFIED:         2,
	jiexuv1.CaseState_CASE_STATE_CERTIFIED:        3,
	jiexuv1.CaseState_CASE_STATE_FUNDED:           4,
	jiexuv1.CaseState_CASE_STATE_COMPLETED:        5,
	jiexuv1.CaseState_CASE_STATE_REQUESTED:        0,
	jiexuv1.CaseState_CASE_STATE_RECEIVED:         1,
	jiexuv1.CaseState_CASE_STATE_SUSPENDED:        2,
	jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT: 3,
	jiexuv1.CaseState_CASE_STATE_REMITTED:         4,
	jiexuv1.CaseState_CASE_STATE_CLOSED:           5,
	jiexuv1.CaseState_CASE_STATE_REJECTED:         6,
}

// Terminal reports whether a case has ended.
func Terminal(s jiexuv1.CaseState) bool {
	return s == jiexuv1.CaseState_CASE_STATE_COMPLETED || s == jiexuv1.CaseState_CASE_STATE_CLOSED || s == jiexuv1.CaseState_CASE_STATE_REJECTED
}

// advance moves c to state if that is forward, records the step, and logs
// and counts the transition once the transaction commits.
func (n *Node) advance(tx *bolt.Tx, c *jiexuv1.Case, state jiexuv1.CaseState, now time.Time) {
	if c.GetState() != jiexuv1.CaseState_CASE_STATE_UNSPECIFIED && rank[state] <= rank[c.GetState()] {
		return
	}
	from := c.GetState()
	c.State = state
	c.Steps = append(c.Steps, &jiexuv1.CaseStep{State: state, At: timestamppb.New(now)})
	c.UpdatedAt = timestamppb.New(now)
	caseID, side := c.GetCaseId(), c.GetSide()
	origin, dest := c.GetOriginRegion(), c.GetDestinationRegion()
	opened := c.GetOpenedAt().AsTime()
	tx.OnCommit(func() {
		n.log.Info("case transition", "case_id", caseID, "side", sideLabel(side), "from", stateLabel(from), "to", stateLabel(state),
			"origin", origin, "destination", dest)
		n.metrics.transition(side, state, now.Sub(opened))
	})
}

func (n *Node) newCaseID(tx *bolt.Tx, now time.Time) (string, error) {
	day := now.In(rules.CST).Format("20060102")
	seq, err := nextCounter(tx, "case/"+day)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%s-%06d", n.cfg.Region, day, seq), nil
}

// application is a transfer lodged at this node by the person: at the
// destination (the other party is the origin) or at the origin (the other
// party is the destination).
type application struct {
	id, name      string
	division      string // the other party's division code, as the applicant named it
	divisionField string // its field name in the request, for errors
	// open fills the new case and returns the message that tells the other
	// party, given the person's record here and the other party's region.
	open  func(c *jiexuv1.Case, rec *jiexuv1.Record, other string) (method string, msg gateway.Message)
	state jiexuv1.CaseState
}

// apply opens a case for an application lodged here: the person must be
// actively enrolled here under that name with no open case, and the other
// party is found by longest-prefix routing. The case and the message to the
// other party commit in one transaction.
func (n *Node) apply(a application) (*jiexuv1.Case, error) {
	id := rules.NormalizeID(a.id)
	var vs violations
	n.v.checkID(&vs, "id_number", id)
	n.v.checkDivision(&vs, a.divisionField, a.division)
	checkName(&vs, "name", a.name, true)
	if err := vs.err(); err != nil {
		return nil, err
	}
	router, err := n.gw.Directory().Router()
	if err != nil {
		return nil, err
	}
	other, err := router.Resolve(a.division)
	if err != nil {
		return nil, err
	}
	if other.GetRegion() == n.cfg.Region {
		return nil, fmt.Errorf("%w: %s routes to %s", ErrSelfTransfer, a.division, other.GetRegion())
	}
	now := n.now()
	var c *jiexuv1.Case
	err = n.db.Update(func(tx *bolt.Tx) error {
		rec, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if rec == nil || rec.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE {
			return fmt.Errorf("%w: the person must be actively enrolled here (jiexu records import, or the agency API's PutRecord)", ErrNotEnrolledHere)
		}
		if rec.GetPerson().GetName() != a.name {
			var vs violations
			vs.add("name", "does not match the name on this node's enrolment record for the ID number")
			return vs.err()
		}
		if open := tx.Bucket(bucketOpenCases).Get([]byte(id)); open != nil {
			return fmt.Errorf("%w: case %s", ErrCaseOpen, open)
		}
		caseID, err := n.newCaseID(tx, now)
		if err != nil {
			return err
		}
		c = &jiexuv1.Case{CaseId: caseID, Person: rec.GetPerson(), OpenedAt: timestamppb.New(now)}
		method, msg := a.open(c, rec, other.GetRegion())
		n.advance(tx, c, a.state, now)
		if err := putCase(tx, c); err != nil {
			return err
		}
		if err := tx.Bucket(bucketOpenCases).Put([]byte(id), []byte(caseID)); err != nil {
			return err
		}
		return n.gw.Enqueue(tx, other.GetRegion(), method, caseID, msg)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// applyTransfer opens a destination case and notifies the origin.
func (n *Node) applyTransfer(req *jiexuv1.ApplyTransferRequest) (*jiexuv1.Case, error) {
	return n.apply(application{
		id: req.GetIdNumber(), name: req.GetName(), division: req.GetOriginDivision(), divisionField: "origin_division",
		state: jiexuv1.CaseState_CASE_STATE_APPLIED,
		open: func(c *jiexuv1.Case, rec *jiexuv1.Record, origin string) (string, gateway.Message) {
			c.Side = jiexuv1.CaseSide_CASE_SIDE_DESTINATION
			c.OriginDivision, c.OriginRegion, c.DestinationRegion = req.GetOriginDivision(), origin, n.cfg.Region
			c.DestinationScheme = rec.GetScheme()
			return methodNotify, notice(rec, req.GetOriginDivision())
		},
	})
}

// applyTransferOut opens a case at the origin for an application lodged
// here (2021 rule) and asks the destination to confirm the enrolment.
func (n *Node) applyTransferOut(req *jiexuv1.ApplyTransferOutRequest) (*jiexuv1.Case, error) {
	return n.apply(application{
		id: req.GetIdNumber(), name: req.GetName(), division: req.GetDestinationDivision(), divisionField: "destination_division",
		state: jiexuv1.CaseState_CASE_STATE_REQUESTED,
		open: func(c *jiexuv1.Case, rec *jiexuv1.Record, dest string) (string, gateway.Message) {
			c.Side = jiexuv1.CaseSide_CASE_SIDE_ORIGIN
			c.OriginDivision, c.OriginRegion, c.DestinationRegion = n.cfg.Region, n.cfg.Region, dest
			c.OriginScheme, c.AppliedAtOrigin = rec.GetScheme(), true
			return methodRequest, &jiexuv1.RequestTransferRequest{Person: rec.GetPerson(), DestinationDivision: req.GetDestinationDivision()}
		},
	})
}

// notice is the destination's notification for a person enrolled here.
func notice(rec *jiexuv1.Record, originDivision string) *jiexuv1.NotifyTransferRequest {
	from := rec.GetEnrolledFrom()
	return &jiexuv1.NotifyTransferRequest{
		Person:            rec.GetPerson(),
		DestinationScheme: rec.GetScheme(),
		OriginDivision:    originDivision,
		EnrolledOn:        &jiexuv1.Date{Year: from.GetYear(), Month: from.GetMonth(), Day: 1},
	}
}

// onNotify is the origin's handling of a notification: reject with a reason,
// or suspend the enrolment, issue the certificate, deliver it and remit the
// balance, all in the transaction that records the message.
func (n *Node) onNotify(tx *bolt.Tx, req *jiexuv1.NotifyTransferRequest, now time.Time) error {
	h := req.GetHeader()
	c, err := getCase(tx, h.GetCaseId())
	if err != nil {
		return err
	}
	switch {
	case c == nil:
		c = &jiexuv1.Case{
			CaseId:            h.GetCaseId(),
			Side:              jiexuv1.CaseSide_CASE_SIDE_ORIGIN,
			Person:            req.GetPerson(),
			OriginDivision:    req.GetOriginDivision(),
			OriginRegion:      n.cfg.Region,
			DestinationRegion: h.GetSenderRegion(),
			OpenedAt:          timestamppb.New(now),
		}
	case c.GetState() == jiexuv1.CaseState_CASE_STATE_REQUESTED && c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_ORIGIN &&
		c.GetDestinationRegion() == h.GetSenderRegion():
		// Applied here; the destination has confirmed the enrolment.
	default:
		return nil // already handled under another message id
	}
	c.DestinationScheme = req.GetDestinationScheme()
	n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_RECEIVED, now)
	c.TransferOutDue = rules.DateOf(n.cal.AddWorkdays(now, rules.TransferOutDays))
	id := req.GetPerson().GetIdNumber()
	rec, err := getRecord(tx, id)
	if err != nil {
		return err
	}
	reason, detail := jiexuv1.RejectReason_REJECT_REASON_UNSPECIFIED, ""
	switch {
	case rec == nil:
		reason, detail = jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED, "该参保人在转出地无参保记录 (no enrolment for this ID number at the origin)"
	case rec.GetPerson().GetName() != req.GetPerson().GetName():
		reason, detail = jiexuv1.RejectReason_REJECT_REASON_IDENTITY_MISMATCH, "姓名与转出地参保记录不符 (name does not match the origin's record)"
	case openCaseOtherThan(tx, id, c.GetCaseId()):
		reason, detail = jiexuv1.RejectReason_REJECT_REASON_CASE_OPEN, "该参保人已有正在办理的转移 (another transfer is in progress)"
	case rec.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE:
		reason, detail = jiexuv1.RejectReason_REJECT_REASON_ALREADY_TRANSFERRED, "该参保人已中止参保或已转出 (enrolment already suspended or transferred)"
	}
	if reason != jiexuv1.RejectReason_REJECT_REASON_UNSPECIFIED {
		c.RejectReason, c.RejectDetail = reason, detail
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_REJECTED, now)
		if err := releaseOpenCase(tx, id, c.GetCaseId()); err != nil {
			return err
		}
		if err := putCase(tx, c); err != nil {
			return err
		}
		return n.gw.Enqueue(tx, h.GetSenderRegion(), methodReject, c.GetCaseId(), &jiexuv1.RejectTransferRequest{Reason: reason, Detail: detail})
	}

	// Suspend (中止) the enrolment; an NCMS participation simply ends. The
	// balance leaves the record now and travels in the remittance.
	balance := rec.GetBalanceFen()
	rec.EnrolledTo = rules.YearMonthOf(now)
	rec.Status = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED
	if rec.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS {
		rec.Status = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ENDED
	}
	rec.BalanceFen = 0
	rec.UpdatedAt = timestamppb.New(now)
	if err := putRecord(tx, rec); err != nil {
		return err
	}
	sealed, cert, err := n.issueCertificate(tx, c, rec, balance, now)
	if err != nil {
		return err
	}
	c.Person = rec.GetPerson()
	c.OriginScheme = rec.GetScheme()
	c.CertificateNumber = cert.GetNumber()
	c.MonthsPaid = rec.GetMonthsPaid()
	c.ExpectedAmountFen, c.AmountFen = balance, balance
	n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_SUSPENDED, now)
	if err := putCase(tx, c); err != nil {
		return err
	}
	if err := tx.Bucket(bucketOpenCases).Put([]byte(id), []byte(c.GetCaseId())); err != nil {
		return err
	}
	if err := n.gw.Enqueue(tx, c.GetDestinationRegion(), methodDeliver, c.GetCaseId(), &jiexuv1.DeliverCertificateRequest{Certificate: sealed}); err != nil {
		return err
	}
	if balance > 0 {
		if err := n.gw.Enqueue(tx, c.GetDestinationRegion(), methodRemit, c.GetCaseId(), &jiexuv1.RemitRequest{
			IdNumber: id, AmountFen: balance, CertificateNumber: cert.GetNumber(),
		}); err != nil {
			return err
		}
		tx.OnCommit(func() { n.metrics.remittedFen.Add(float64(balance)) })
	}
	return nil
}

// issueCertificate numbers, fills and seals the certificate. The serial is
// allocated in the caller's transaction, so it never repeats and never skips.
func (n *Node) issueCertificate(tx *bolt.Tx, c *jiexuv1.Case, rec *jiexuv1.Record, balance int64, now time.Time) (*jiexuv1.SealedCertificate, *jiexuv1.Certificate, error) {
	year := now.In(rules.CST).Year()
	serial, err := nextCounter(tx, fmt.Sprintf("cert/%d", year))
	if err != nil {
		return nil, nil, err
	}
	if serial > 99999 {
		return nil, nil, fmt.Errorf("certificate serials for %d exhausted", year)
	}
	abbrev, err := n.table.Abbrev(n.cfg.Region)
	if err != nil {
		return nil, nil, err
	}
	short, err := n.table.ShortName(n.cfg.Region)
	if err != nil {
		return nil, nil, err
	}
	full, err := n.table.FullName(n.cfg.Region)
	if err != nil {
		return nil, nil, err
	}
	words, err := rules.AmountWords(balance)
	if err != nil {
		return nil, nil, err
	}
	cert := &jiexuv1.Certificate{
		Number:            rules.FormatCertNumber(abbrev, short, year, uint32(serial)),
		Year:              int32(year),
		Serial:            uint32(serial),
		GeneratedOn:       rules.DateOf(now),
		Person:            rec.GetPerson(),
		Scheme:            rec.GetScheme(),
		OriginRegion:      n.cfg.Region,
		OriginName:        full,
		EnrolledFrom:      rec.GetEnrolledFrom(),
		EnrolledTo:        rec.GetEnrolledTo(),
		MonthsPaid:        rec.GetMonthsPaid(),
		BalanceFen:        balance,
		BalanceWords:      words,
		BalanceFigures:    rules.AmountFigures(balance),
		AgencyName:        n.cfg.AgencyName,
		AgencyKind:        n.kind,
		AgencyContact:     n.contact,
		CaseId:            c.GetCaseId(),
		DestinationRegion: c.GetDestinationRegion(),
		RegisterBy:        rules.DateOf(now.AddDate(0, 3, 0)),
		IssuedAt:          timestamppb.New(now),
	}
	if rec.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS {
		from := rec.GetEnrolledFrom()
		cert.BenefitFrom = &jiexuv1.Date{Year: from.GetYear(), Month: from.GetMonth(), Day: 1}
		cert.BenefitTo = rules.DateOf(now)
	}
	sealed, err := SealCertificate(n.gw.Signer(), cert)
	if err != nil {
		return nil, nil, err
	}
	if err := putProto(tx, bucketCertificates, []byte(cert.GetNumber()), sealed); err != nil {
		return nil, nil, err
	}
	tx.OnCommit(func() { n.metrics.certificates.Inc() })
	return sealed, cert, nil
}

// destCase loads the destination case a message from the origin refers to.
func (n *Node) destCase(tx *bolt.Tx, h *jiexuv1.MessageHeader) (*jiexuv1.Case, error) {
	c, err := getCase(tx, h.GetCaseId())
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("%w: case %s", ErrNotFound, h.GetCaseId())
	}
	if c.GetSide() != jiexuv1.CaseSide_CASE_SIDE_DESTINATION || c.GetOriginRegion() != h.GetSenderRegion() {
		return nil, fmt.Errorf("%w: case %s is not a transfer from %s to this node", ErrMismatch, h.GetCaseId(), h.GetSenderRegion())
	}
	return c, nil
}

func (n *Node) onReject(tx *bolt.Tx, req *jiexuv1.RejectTransferRequest, now time.Time) error {
	h := req.GetHeader()
	c, err := getCase(tx, h.GetCaseId())
	if err != nil {
		return err
	}
	other := c.GetOriginRegion() // who may refuse: the origin of a destination case …
	if c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_ORIGIN {
		other = c.GetDestinationRegion() // … or the destination of a case applied here
	}
	if c == nil || other != h.GetSenderRegion() {
		return fmt.Errorf("%w: case %s is not shared with %s", ErrMismatch, h.GetCaseId(), h.GetSenderRegion())
	}
	if Terminal(c.GetState()) {
		return nil
	}
	if c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_ORIGIN && c.GetState() != jiexuv1.CaseState_CASE_STATE_REQUESTED {
		return fmt.Errorf("%w: case %s is already being transferred out", ErrMismatch, c.GetCaseId())
	}
	c.RejectReason, c.RejectDetail = req.GetReason(), req.GetDetail()
	n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_REJECTED, now)
	if err := releaseOpenCase(tx, c.GetPerson().GetIdNumber(), c.GetCaseId()); err != nil {
		return err
	}
	return putCase(tx, c)
}

// openCaseOtherThan reports whether the person has an open case here other
// than caseID.
func openCaseOtherThan(tx *bolt.Tx, id, caseID string) bool {
	open := tx.Bucket(bucketOpenCases).Get([]byte(id))
	return open != nil && string(open) != caseID
}

// releaseOpenCase removes the person's open-case mark if it is caseID's.
func releaseOpenCase(tx *bolt.Tx, id, caseID string) error {
	if open := tx.Bucket(bucketOpenCases).Get([]byte(id)); open != nil && string(open) == caseID {
		return tx.Bucket(bucketOpenCases).Delete([]byte(id))
	}
	return nil
}

func (n *Node) onCertificate(tx *bolt.Tx, req *jiexuv1.DeliverCertificateRequest, now time.Time) error {
	c, err := n.destCase(tx, req.GetHeader())
	if err != nil {
		return err
	}
	if c.GetCertified() || Terminal(c.GetState()) {
		return nil
	}
	cert, err := VerifyCertificate(req.GetCertificate(), n.ca, n.gw.Directory().Revoked())
	if err != nil {
		var vs violations
		vs.add("certificate", "%v", err)
		return vs.err()
	}
	switch {
	case cert.GetCaseId() != c.GetCaseId():
		return fmt.Errorf("%w: certificate is for case %s", ErrMismatch, cert.GetCaseId())
	case cert.GetPerson().GetIdNumber() != c.GetPerson().GetIdNumber():
		return fmt.Errorf("%w: certificate is for another person", ErrMismatch)
	case cert.GetDestinationRegion() != n.cfg.Region:
		return fmt.Errorf("%w: certificate names destination %s", ErrMismatch, cert.GetDestinationRegion())
	case cert.GetOriginRegion() != c.GetOriginRegion():
		return fmt.Errorf("%w: certificate issued by %s", ErrMismatch, cert.GetOriginRegion())
	}
	if err := putProto(tx, bucketCertificates, []byte(cert.GetNumber()), req.GetCertificate()); err != nil {
		return err
	}
	c.Certified = true
	c.CertificateNumber = cert.GetNumber()
	c.MonthsPaid = cert.GetMonthsPaid()
	c.OriginScheme = cert.GetScheme()
	c.ExpectedAmountFen = cert.GetBalanceFen()
	rec, err := getRecord(tx, c.GetPerson().GetIdNumber())
	if err != nil {
		return err
	}
	n.applyRules(c, cert, rec, now)
	if cert.GetBalanceFen() == 0 {
		c.Funded = true // nothing owed
	}
	return n.settle(tx, c, now)
}

func (n *Node) onRemit(tx *bolt.Tx, req *jiexuv1.RemitRequest, now time.Time) error {
	c, err := n.destCase(tx, req.GetHeader())
	if err != nil {
		return err
	}
	if req.GetIdNumber() != c.GetPerson().GetIdNumber() {
		return fmt.Errorf("%w: remittance is for another person", ErrMismatch)
	}
	if c.GetFunded() && c.GetAmountFen() == req.GetAmountFen() || c.GetState() == jiexuv1.CaseState_CASE_STATE_REJECTED {
		return nil
	}
	if c.GetFunded() {
		return fmt.Errorf("%w: case already funded with %d fen", ErrMismatch, c.GetAmountFen())
	}
	rec, err := getRecord(tx, c.GetPerson().GetIdNumber())
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("%w: the enrolment record of case %s is gone", ErrMismatch, c.GetCaseId())
	}
	rec.BalanceFen += req.GetAmountFen()
	rec.UpdatedAt = timestamppb.New(now)
	if err := putRecord(tx, rec); err != nil {
		return err
	}
	c.Funded = true
	c.AmountFen = req.GetAmountFen()
	c.CreditDue = rules.DateOf(n.cal.AddWorkdays(now, rules.CreditDays)) // credited in this very transaction
	amount := req.GetAmountFen()
	tx.OnCommit(func() { n.metrics.receivedFen.Add(float64(amount)) })
	if err := n.gw.Enqueue(tx, c.GetOriginRegion(), methodConfirm, c.GetCaseId(), &jiexuv1.ConfirmRemittanceRequest{AmountFen: amount}); err != nil {
		return err
	}
	return n.settle(tx, c, now)
}

// settle moves a destination case as far as the messages it has received
// allow, and completes it when both certificate and funds are in.
func (n *Node) settle(tx *bolt.Tx, c *jiexuv1.Case, now time.Time) error {
	switch {
	case c.GetCertified() && c.GetFunded():
		if c.GetAmountFen() != c.GetExpectedAmountFen() {
			c.LastError = fmt.Sprintf("remitted %s but the certificate states %s", rules.AmountFigures(c.GetAmountFen()), rules.AmountFigures(c.GetExpectedAmountFen()))
		}
		rec, err := getRecord(tx, c.GetPerson().GetIdNumber())
		if err != nil {
			return err
		}
		if rec != nil { // paid months at the origin count here (2015 §3)
			rec.MonthsPaid += c.GetMonthsPaid()
			rec.UpdatedAt = timestamppb.New(now)
			if err := putRecord(tx, rec); err != nil {
				return err
			}
		}
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_CERTIFIED, now)
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_FUNDED, now)
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_COMPLETED, now)
		if err := releaseOpenCase(tx, c.GetPerson().GetIdNumber(), c.GetCaseId()); err != nil {
			return err
		}
	case c.GetCertified():
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_CERTIFIED, now)
	default:
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_NOTIFIED, now)
	}
	return putCase(tx, c)
}

func (n *Node) onConfirm(tx *bolt.Tx, req *jiexuv1.ConfirmRemittanceRequest, now time.Time) error {
	c, err := getCase(tx, req.GetHeader().GetCaseId())
	if err != nil {
		return err
	}
	if c == nil || c.GetSide() != jiexuv1.CaseSide_CASE_SIDE_ORIGIN || c.GetDestinationRegion() != req.GetHeader().GetSenderRegion() {
		return fmt.Errorf("%w: case %s is not a transfer from this node to %s", ErrMismatch, req.GetHeader().GetCaseId(), req.GetHeader().GetSenderRegion())
	}
	if req.GetAmountFen() != c.GetAmountFen() {
		c.LastError = fmt.Sprintf("destination confirmed %s, remitted %s", rules.AmountFigures(req.GetAmountFen()), rules.AmountFigures(c.GetAmountFen()))
	}
	c.Confirmed = true
	return n.settleOrigin(tx, c, now)
}

// settleOrigin moves an origin case: the certificate delivered, the balance
// remitted, and closed once the destination confirmed (or nothing was owed).
func (n *Node) settleOrigin(tx *bolt.Tx, c *jiexuv1.Case, now time.Time) error {
	if c.GetState() == jiexuv1.CaseState_CASE_STATE_REJECTED {
		return putCase(tx, c)
	}
	if c.GetCertified() {
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, now)
		owed := c.GetAmountFen() > 0
		if owed && c.GetFunded() {
			n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_REMITTED, now)
		}
		if !owed || c.GetConfirmed() {
			n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_CLOSED, now)
			if err := releaseOpenCase(tx, c.GetPerson().GetIdNumber(), c.GetCaseId()); err != nil {
				return err
			}
		}
	}
	return putCase(tx, c)
}

// onAck advances a case when one of its messages is acknowledged; it runs in
// the dispatcher's transaction.
func (n *Node) onAck(tx *bolt.Tx, msg *jiexuv1.OutboxMessage) error {
	c, err := getCase(tx, msg.GetCaseId())
	if err != nil || c == nil {
		return err
	}
	now := n.now()
	switch msg.GetMethod() {
	case methodNotify:
		if c.GetState() == jiexuv1.CaseState_CASE_STATE_APPLIED {
			n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_NOTIFIED, now)
			return putCase(tx, c)
		}
	case methodDeliver:
		c.Certified = true
		return n.settleOrigin(tx, c, now)
	case methodRemit:
		c.Funded = true
		return n.settleOrigin(tx, c, now)
	}
	return nil
}

// onRequest is the destination's handling of an application lodged at the
// origin: if the person is enrolled here it opens its side of the case and
// notifies the origin as if applied here; otherwise it refuses.
func (n *Node) onRequest(tx *bolt.Tx, req *jiexuv1.RequestTransferRequest, now time.Time) error {
	h := req.GetHeader()
	if existing, err := getCase(tx, h.GetCaseId()); err != nil || existing != nil {
		return err
	}
	id := req.GetPerson().GetIdNumber()
	c := &jiexuv1.Case{
		CaseId:            h.GetCaseId(),
		Side:              jiexuv1.CaseSide_CASE_SIDE_DESTINATION,
		Person:            req.GetPerson(),
		OriginDivision:    h.GetSenderRegion(),
		OriginRegion:      h.GetSenderRegion(),
		DestinationRegion: n.cfg.Region,
		OpenedAt:          timestamppb.New(now),
		AppliedAtOrigin:   true,
	}
	rec, err := getRecord(tx, id)
	if err != nil {
		return err
	}
	detail := ""
	switch {
	case rec == nil || rec.GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE:
		detail = "该参保人未在转入地参保 (not enrolled at the destination)"
	case rec.GetPerson().GetName() != req.GetPerson().GetName():
		detail = "姓名与转入地参保记录不符 (name does not match the destination's record)"
	case openCaseOtherThan(tx, id, c.GetCaseId()):
		detail = "该参保人已有正在办理的转移 (another transfer is in progress)"
	}
	if detail != "" {
		c.RejectReason, c.RejectDetail = jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED_AT_DESTINATION, detail
		n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_REJECTED, now)
		if err := putCase(tx, c); err != nil {
			return err
		}
		return n.gw.Enqueue(tx, h.GetSenderRegion(), methodReject, c.GetCaseId(), &jiexuv1.RejectTransferRequest{
			Reason: c.GetRejectReason(), Detail: detail,
		})
	}
	c.Person = rec.GetPerson()
	c.DestinationScheme = rec.GetScheme()
	n.advance(tx, c, jiexuv1.CaseState_CASE_STATE_APPLIED, now)
	if err := putCase(tx, c); err != nil {
		return err
	}
	if err := tx.Bucket(bucketOpenCases).Put([]byte(id), []byte(c.GetCaseId())); err != nil {
		return err
	}
	return n.gw.Enqueue(tx, h.GetSenderRegion(), methodNotify, c.GetCaseId(), notice(rec, h.GetSenderRegion()))
}
