package node

import (
	"fmt"
	"maps"
	"slices"

	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// sideView is what one node holds of the cases it shares with another,
// by case id.
type sideView map[string]*jiexuv1.SharedCase

// comparison is the outcome of comparing two views.
type comparison struct {
	differences []*jiexuv1.ReconcileDifference
	compared    int
	inFlight    int
}

// compareViews lists every difference between this node's view and the
// peer's, case by case in id order. A pair with a message still queued on
// either side is in flight: what the message will change is not yet on
// both sides, so the pair is counted and not compared (a dead letter is
// not in flight: it is reported).
func compareViews(here, peer sideView) comparison {
	var out comparison
	ids := slices.Sorted(maps.Keys(here))
	for id := range peer {
		if here[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		h, p := here[id], peer[id]
		out.compared++
		if h.GetDeadLetters() > 0 || p.GetDeadLetters() > 0 {
			out.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_DEAD_LETTER, h, p,
				"a message about the case was dead-lettered (%d here, %d at the peer): see 'jiexu outbox list --dead' on each side and redrive it",
				h.GetDeadLetters(), p.GetDeadLetters())
			continue
		}
		if h.GetPendingMessages() > 0 || p.GetPendingMessages() > 0 {
			out.inFlight++
			continue
		}
		out.comparePair(id, h, p)
	}
	return out
}

func (c *comparison) add(id string, kind jiexuv1.DifferenceKind, h, p *jiexuv1.SharedCase, format string, args ...any) {
	c.differences = append(c.differences, &jiexuv1.ReconcileDifference{CaseId: id, Kind: kind,
		Detail: rules.Clip(fmt.Sprintf(format, args...), 1000), Here: h, Peer: p})
}

// comparePair checks one case both sides settled on.
func (c *comparison) comparePair(id string, h, p *jiexuv1.SharedCase) {
	switch {
	case h == nil:
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_MISSING_HERE, h, p,
			"the peer holds its %s side (%s); this node has no record of the case", render.Label(p.GetSide()), render.Label(p.GetState()))
		return
	case p == nil:
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_MISSING_AT_PEER, h, p,
			"this node holds its %s side (%s); the peer has no record of the case", render.Label(h.GetSide()), render.Label(h.GetState()))
		return
	case h.GetSide() == p.GetSide():
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_SAME_SIDE, h, p, "both nodes hold the %s side", render.Label(h.GetSide()))
		return
	}
	if a, b := h.GetMaskedIdNumber(), p.GetMaskedIdNumber(); a != "" && b != "" && a != b {
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_PERSON, h, p, "about %s here and %s at the peer", a, b)
	}
	if a, b := h.GetCertificateNumber(), p.GetCertificateNumber(); a != "" && b != "" && a != b {
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_CERTIFICATE, h, p, "certificate %s here, %s at the peer", a, b)
	}
	origin, dest := h, p
	if h.GetSide() == sideDestination {
		origin, dest = p, h
	}
	c.compareEnds(id, h, p, origin, dest)
}

// compareEnds checks that the two sides ended, or not, consistently, and
// that the money sent is the money received.
func (c *comparison) compareEnds(id string, h, p, origin, dest *jiexuv1.SharedCase) {
	from, to := origin.GetState(), dest.GetState()
	switch {
	case origin.GetEnded() != dest.GetEnded():
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_ENDED_ONE_SIDE, h, p,
			"the origin is %s, the destination %s, and nothing is on its way between them", render.Label(from), render.Label(to))
		return
	case !origin.GetEnded():
		return // both open and quiet: waiting for an operator or the person
	}
	closed, completed := from == jiexuv1.CaseState_CASE_STATE_CLOSED, to == jiexuv1.CaseState_CASE_STATE_COMPLETED
	if closed != completed {
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_ENDED_DIFFERENTLY, h, p,
			"the origin ended %s, the destination %s: one side transferred the person, the other did not", render.Label(from), render.Label(to))
		return
	}
	sent, got := origin.GetAmountFen()-origin.GetReturnedFen(), dest.GetAmountFen()
	if !closed {
		got = 0 // a case that did not transfer keeps nothing at the destination
		if dest.GetFunded() {
			got = dest.GetAmountFen()
		}
	}
	if sent != got {
		c.add(id, jiexuv1.DifferenceKind_DIFFERENCE_KIND_AMOUNT, h, p, "%s", amountDetail(sent, got))
	}
}

// amountDetail says how the balance sent and the balance kept differ.
func amountDetail(sent, got int64) string {
	switch {
	case got == 0:
		return fmt.Sprintf("the origin remitted %s; the destination credited nothing", rules.AmountFigures(sent))
	case sent > 0 && got == 2*sent:
		return fmt.Sprintf("the origin remitted %s; the destination credited %s, twice the amount", rules.AmountFigures(sent), rules.AmountFigures(got))
	}
	return fmt.Sprintf("the origin remitted %s (net of returns); the destination holds %s", rules.AmountFigures(sent), rules.AmountFigures(got))
}
