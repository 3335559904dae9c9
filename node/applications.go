package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// application is a transfer lodged at this node by the person: at the
// destination (the other party is the origin) or at the origin (the other
// party is the destination).
type application struct {
	id, name      string
	division      string // the other party's division code, as the applicant named it
	divisionField string // its field name in the request, for errors
	side          jiexuv1.CaseSide
	// certificate, code and card are the applicant's proof presented at the
	// destination (see NotifyTransferRequest).
	certificate, code, card string
}

// apply opens a case for an application lodged here. The other party is
// found by longest-prefix routing; the state machine decides from what this
// node holds for the person whether the application stands. The case and the
// message to the other party commit in one transaction.
func (n *Node) apply(a application) (*jiexuv1.Case, error) {
	id := rules.NormalizeID(a.id)
	var vs violations
	n.v.checkID(&vs, "id_number", id)
	n.v.checkDivision(&vs, a.divisionField, a.division)
	checkName(&vs, "name", a.name, true)
	checkProof(&vs, a.certificate, a.code, a.card)
	if err := vs.err(); err != nil {
		return nil, err
	}
	route, err := n.gw.Route(context.Background(), a.division) // refreshes the snapshot for a region that has just joined
	if err != nil {
		return nil, err
	}
	other := route.Node
	var via string
	if len(route.Steps) > 0 || route.Former {
		via = route.String()
		n.log.Info("division routed through a change of code", "route", via)
	}
	if other.GetRegion() == n.cfg.Region {
		role := "origin"
		if a.side == sideOrigin {
			role = "destination"
		}
		return nil, fmt.Errorf("%w: the %s %s is served by this node (%s routes to %s); a transfer is between two regions",
			ErrSelfTransfer, role, a.division, a.division, other.GetRegion())
	}
	now := n.now()
	var c *jiexuv1.Case
	err = n.gw.Update(func(tx *bolt.Tx) error {
		e, err := getEnrolment(tx, id)
		if err != nil {
			return err
		}
		caseID, err := n.newCaseID(tx, now)
		if err != nil {
			return err
		}
		c = &jiexuv1.Case{CaseId: caseID, Side: a.side, Person: e.GetPerson(), OpenedAt: timestamppb.New(now), Route: via}
		if c.Person == nil {
			c.Person = &jiexuv1.Person{IdNumber: id, Name: a.name}
		}
		open := openCase(tx, id)
		in := n.facts(e, transfer.Input{Event: transfer.Apply}, a.name, open)
		p := latest(e)
		if a.side == sideDestination {
			c.OriginDivision, c.OriginRegion, c.DestinationRegion = a.division, other.GetRegion(), n.cfg.Region
			c.DestinationScheme, c.DestinationFrom, c.EnrolledOn = p.GetScheme(), p.GetEnrolledFrom(), p.GetRegisteredOn()
			c.PresentedCertificate, c.PresentedCode, c.PresentedInsuranceNumber = a.certificate, a.code, a.card
		} else {
			in.Event = transfer.ApplyOut
			c.OriginDivision, c.OriginRegion, c.DestinationRegion = p.GetDivision(), n.cfg.Region, other.GetRegion()
			c.OriginScheme, c.AppliedAtOrigin = p.GetScheme(), true
		}
		if err := n.step(tx, c, in, now); err != nil {
			if errors.Is(err, transfer.ErrCaseOpen) {
				return fmt.Errorf("%w: case %s (jiexu transfer status %s)", err, open, open)
			}
			return err
		}
		return nil
	})
	if errors.Is(err, transfer.ErrNameMismatch) {
		var vs violations
		vs.add("name", "does not match this node's enrolment record for the ID number")
		return nil, vs.err()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// withdraw is the applicant's withdrawal (撤销) at either side.
func (n *Node) withdraw(req *jiexuv1.WithdrawCaseRequest) (*jiexuv1.Case, error) {
	var vs violations
	checkCaseID(&vs, req.GetCaseId())
	checkText(&vs, "detail", req.GetDetail(), 200)
	if err := vs.err(); err != nil {
		return nil, err
	}
	return n.onCase(req.GetCaseId(), transfer.Input{Event: transfer.Withdraw, Detail: req.GetDetail()})
}

// confirmCase is the origin operator's confirmation of a case that waits
// for it.
func (n *Node) confirmCase(req *jiexuv1.ConfirmCaseRequest) (*jiexuv1.Case, error) {
	var vs violations
	checkCaseID(&vs, req.GetCaseId())
	if err := vs.err(); err != nil {
		return nil, err
	}
	return n.onCase(req.GetCaseId(), transfer.Input{Event: transfer.Confirm})
}

// refusable are the reasons an origin's operator may give.
var refusable = []jiexuv1.RejectReason{
	jiexuv1.RejectReason_REJECT_REASON_NOT_SUSPENDED, jiexuv1.RejectReason_REJECT_REASON_NOT_ENROLLED,
	jiexuv1.RejectReason_REJECT_REASON_IDENTITY_MISMATCH, jiexuv1.RejectReason_REJECT_REASON_ALREADY_TRANSFERRED,
	jiexuv1.RejectReason_REJECT_REASON_OTHER,
}

// refuseCase is the origin operator's refusal of a waiting case.
func (n *Node) refuseCase(req *jiexuv1.RefuseCaseRequest) (*jiexuv1.Case, error) {
	var vs violations
	checkCaseID(&vs, req.GetCaseId())
	ok := false
	for _, r := range refusable {
		ok = ok || r == req.GetReason()
	}
	if !ok {
		vs.add("reason", "must be not_suspended, not_enrolled, identity_mismatch, already_transferred or other")
	}
	checkText(&vs, "detail", req.GetDetail(), 200)
	if req.GetReason() == jiexuv1.RejectReason_REJECT_REASON_OTHER && req.GetDetail() == "" {
		vs.add("detail", "required with reason other: a sentence the applicant can act on")
	}
	if err := vs.err(); err != nil {
		return nil, err
	}
	return n.onCase(req.GetCaseId(), transfer.Input{Event: transfer.Refuse, Reason: req.GetReason(), Detail: req.GetDetail()})
}

// onCase runs a local event on a case.
func (n *Node) onCase(caseID string, in transfer.Input) (*jiexuv1.Case, error) {
	var c *jiexuv1.Case
	err := n.gw.Update(func(tx *bolt.Tx) error {
		var err error
		if c, err = getCase(tx, caseID); err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("%w: case %s", ErrNotFound, caseID)
		}
		if in.Event == transfer.Confirm {
			e, err := getEnrolment(tx, c.GetPerson().GetIdNumber())
			if err != nil {
				return err
			}
			in = n.facts(e, in, "", "")
		}
		return n.step(tx, c, in, n.now())
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// getCase returns a case with what is computed when it is read: whether it
// is overdue, and why its messages are not moving.
func (n *Node) getCase(caseID string) (*jiexuv1.Case, error) {
	var c *jiexuv1.Case
	err := n.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = getCase(tx, caseID)
		if err == nil && c == nil {
			err = fmt.Errorf("%w: case %s", ErrNotFound, caseID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	c.Overdue = transfer.Overdue(c, n.now())
	if c.GetLastError() == "" {
		c.LastError = n.deliveryError(c.GetCaseId())
	}
	return c, nil
}

// Page sizes of the listings.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func pageSize(n int32) int {
	if n <= 0 {
		return defaultPageSize
	}
	return min(int(n), maxPageSize)
}

// listCases pages through the cases newest first.
func (n *Node) listCases(req *jiexuv1.ListCasesRequest) (*jiexuv1.ListCasesResponse, error) {
	var after []byte
	if t := req.GetPageToken(); t != "" {
		var err error
		if after, err = hex.DecodeString(t); err != nil || len(after) < 8 {
			var vs violations
			vs.add("page_token", "not a token this node gave; start again without it")
			return nil, vs.err()
		}
	}
	size := pageSize(req.GetPageSize())
	resp := &jiexuv1.ListCasesResponse{}
	now := n.now()
	err := n.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketCasesByTime).Cursor()
		var k []byte
		if after == nil {
			k, _ = cur.Last()
		} else if k, _ = cur.Seek(after); k != nil {
			k, _ = cur.Prev()
		} else {
			k, _ = cur.Last()
		}
		for ; k != nil; k, _ = cur.Prev() {
			if len(resp.Cases) == size {
				resp.NextPageToken = hex.EncodeToString(timeKey(resp.Cases[len(resp.Cases)-1]))
				return nil
			}
			c, err := getCase(tx, string(k[8:]))
			if err != nil || c == nil {
				return err
			}
			if req.GetSide() != 0 && c.GetSide() != req.GetSide() || req.GetState() != 0 && c.GetState() != req.GetState() ||
				req.GetOpenOnly() && transfer.Terminal(c.GetState()) {
				continue
			}
			c.Overdue = transfer.Overdue(c, now)
			resp.Cases = append(resp.Cases, c)
		}
		return nil
	})
	return resp, err
}

// listEnrolments pages through the enrolments in ID-number order.
func (n *Node) listEnrolments(req *jiexuv1.ListEnrolmentsRequest) (*jiexuv1.ListEnrolmentsResponse, error) {
	size := pageSize(req.GetPageSize())
	after, err := hex.DecodeString(req.GetPageToken())
	if err != nil {
		var vs violations
		vs.add("page_token", "not a token this node gave; start again without it")
		return nil, vs.err()
	}
	resp := &jiexuv1.ListEnrolmentsResponse{}
	err = n.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(bucketEnrolments).Cursor()
		k, v := cur.First()
		if len(after) > 0 {
			if k, v = cur.Seek(after); k != nil && string(k) == string(after) {
				k, v = cur.Next()
			}
		}
		for ; k != nil; k, v = cur.Next() {
			if len(resp.Enrolments) == size {
				resp.NextPageToken = hex.EncodeToString([]byte(resp.Enrolments[len(resp.Enrolments)-1].GetPerson().GetIdNumber()))
				return nil
			}
			e := &jiexuv1.Enrolment{}
			if err := proto.Unmarshal(v, e); err != nil {
				return fmt.Errorf("enrolment %s: %w", rules.MaskID(string(k)), err)
			}
			resp.Enrolments = append(resp.Enrolments, e)
		}
		return nil
	})
	return resp, err
}

// checkCaseID validates a case id named by an operator.
func checkCaseID(vs *violations, id string) {
	if !caseIDPattern.MatchString(id) {
		vs.add("case_id", "%q is not a case id (REGION-YYYYMMDD-NNNNNN, see jiexu transfer list)", truncate(id))
	}
}
