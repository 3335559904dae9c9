package node

import (
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// normalizeRecord fills defaults before validation.
func normalizeRecord(r *jiexuv1.Record) {
	if r == nil || r.Person == nil {
		return
	}
	r.Person.IdNumber = rules.NormalizeID(r.Person.IdNumber)
	r.Person.HouseholdHeadIdNumber = rules.NormalizeID(r.Person.HouseholdHeadIdNumber)
	if r.Status == jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_UNSPECIFIED {
		r.Status = statusActive
		if r.EnrolledTo != nil {
			r.Status = statusSuspended
		}
	}
}

// importResult counts what storing records did.
type importResult struct {
	created, updated, unchanged, suspended int
	warnings                               []string
	last                                   *jiexuv1.Enrolment // the enrolment of the last record
}

// putRecords validates and stores records in one transaction: all or none.
// Every bad row and every refusal is reported, each under its field prefix
// (records[i], or record for a single one).
func (n *Node) putRecords(rs []*jiexuv1.Record, prefix func(i int) string) (*importResult, error) {
	var vs violations
	seen := map[string]int{}
	for i, r := range rs {
		normalizeRecord(r)
		n.v.checkRecord(&vs, prefix(i), r)
		id := r.GetPerson().GetIdNumber()
		if j, dup := seen[id]; dup && id != "" {
			vs.add(prefix(i)+".person.id_number", "same ID number as %s", prefix(j))
		}
		seen[id] = i
	}
	if err := vs.err(); err != nil {
		return nil, err
	}
	now := n.now()
	var res *importResult
	err := n.gw.Update(func(tx *bolt.Tx) error {
		res = &importResult{}
		var refusals violations
		for i, r := range rs {
			out, err := n.putRecord(tx, r, now)
			switch {
			case errors.Is(err, errRefused):
				refusals.add(prefix(i), "%s", strings.TrimPrefix(err.Error(), errRefused.Error()+": "))
				continue
			case err != nil:
				return err
			}
			for _, w := range out.warnings {
				res.warnings = append(res.warnings, prefix(i)+": "+w)
			}
			switch out.change {
			case recordCreated:
				res.created++
			case recordUpdated:
				res.updated++
			default:
				res.unchanged++
			}
			if out.sc != nil {
				res.suspended++
			}
			if res.last, err = getEnrolment(tx, r.GetPerson().GetIdNumber()); err != nil {
				return err
			}
		}
		if err := refusals.err(); err != nil {
			err.(*ValidationError).Refused = true
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n.log.Info("records stored", "created", res.created, "updated", res.updated, "unchanged", res.unchanged, "suspended", res.suspended)
	return res, nil
}

// getEnrolment returns one person's enrolment history here.
func (n *Node) getEnrolment(id string) (*jiexuv1.Enrolment, error) {
	id = rules.NormalizeID(id)
	var vs violations
	n.v.checkID(&vs, "id_number", id)
	if err := vs.err(); err != nil {
		return nil, err
	}
	var e *jiexuv1.Enrolment
	err := n.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = getEnrolment(tx, id)
		if err == nil && e == nil {
			err = fmt.Errorf("%w: no enrolment here for %s", ErrNotFound, rules.MaskID(id))
		}
		return err
	})
	return e, err
}
