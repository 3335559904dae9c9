package chaos

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"jiexu/node"
	"jiexu/node/render"
	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Outcome is what a checker reads after a run: every node's store, read
// after the nodes stopped, and what the run knew at its start.
type Outcome struct {
	// Stores maps each region to its node's store.
	Stores map[string]*node.StoreDump
	// Baseline maps each person (ID number) to the balance (fen, balance
	// plus held, over all periods on all nodes) they had before the run.
	Baseline map[string]int64
	// Drained is false when the run stopped waiting before every outbox
	// emptied. The checker reports a case that has not ended (or exists on
	// one side only) either way: after the drain nothing is in flight.
	Drained bool
}

// Violation is one broken invariant.
type Violation struct {
	// Invariant names the rule; Detail says where.
	Invariant, Detail string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Checker proves invariants over the stores of a run.
type Checker interface {
	Check(o *Outcome) []Violation
}

// Invariants is the checker of today's case model:
//
//   - case-ends-once: every case has one destination side and one origin
//     side, each on one node, both ended, and agreeing: a completed
//     destination has a closed origin and the other way round.
//   - money-per-person: for every person, the balances and held amounts of
//     their periods on every node, plus what a destination holds on a FUNDED
//     case, plus remittances and returns still queued or dead-lettered,
//     equal what the person had before the run. A remittance credited twice,
//     or lost, breaks it; so does a balance that reappears.
//   - money-total: the same, summed over the network.
//   - serials: each region's certificate serials of a year run 1..N with no
//     gap and no repeat (a restore's recorded jump is the one gap allowed),
//     the year's counter is at least N, and no certificate number is held
//     by two people anywhere.
//   - outbox: every outbox is empty; every dead letter says why it is dead.
type Invariants struct{}

// Check implements Checker.
func (Invariants) Check(o *Outcome) []Violation {
	var vs []Violation
	add := func(inv, format string, args ...any) {
		vs = append(vs, Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)})
	}
	regions := slices.Sorted(func(yield func(string) bool) {
		for r := range o.Stores {
			if !yield(r) {
				return
			}
		}
	})
	checkCases(o, regions, add)
	checkMoney(o, regions, add)
	checkSerials(o, regions, add)
	for _, r := range regions {
		d := o.Stores[r]
		for _, m := range d.Pending {
			add("outbox", "%s still queues %s to %s for case %s (%d attempts, last error %q)", r, method(m), m.GetPeerRegion(), m.GetCaseId(), m.GetAttempts(), m.GetLastError())
		}
		for _, m := range d.Dead {
			if m.GetDeadReason() == "" {
				add("outbox", "%s holds dead letter %d (%s to %s, case %s) with no reason", r, m.GetSequence(), method(m), m.GetPeerRegion(), m.GetCaseId())
			}
		}
	}
	return vs
}

func method(m *jiexuv1.OutboxMessage) string {
	return m.GetMethod()[strings.LastIndex(m.GetMethod(), "/")+1:]
}

// caseSides is where a case was found.
type caseSides struct {
	dest, origin     *jiexuv1.Case
	destAt, originAt []string
}

func checkCases(o *Outcome, regions []string, add func(string, string, ...any)) {
	const inv = "case-ends-once"
	cases := map[string]*caseSides{}
	for _, r := range regions {
		for _, c := range o.Stores[r].Cases {
			s := cases[c.GetCaseId()]
			if s == nil {
				s = &caseSides{}
				cases[c.GetCaseId()] = s
			}
			if c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_DESTINATION {
				s.dest, s.destAt = c, append(s.destAt, r)
			} else {
				s.origin, s.originAt = c, append(s.originAt, r)
			}
		}
	}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range cases {
			if !yield(id) {
				return
			}
		}
	}) {
		s := cases[id]
		switch {
		case len(s.destAt) > 1 || len(s.originAt) > 1:
			add(inv, "case %s: destination side on %v, origin side on %v", id, s.destAt, s.originAt)
			continue
		case s.dest == nil || s.origin == nil:
			add(inv, "case %s exists on one side only (destination on %v, origin on %v)", id, s.destAt, s.originAt)
			continue
		}
		if s.destAt[0] != s.dest.GetDestinationRegion() || s.originAt[0] != s.origin.GetOriginRegion() {
			add(inv, "case %s: destination side on %s names %s; origin side on %s names %s", id, s.destAt[0], s.dest.GetDestinationRegion(), s.originAt[0], s.origin.GetOriginRegion())
		}
		d, og := s.dest.GetState(), s.origin.GetState()
		if !transfer.Terminal(d) || !transfer.Terminal(og) {
			add(inv, "case %s has not ended: destination %s, origin %s", id, render.Label(d), render.Label(og))
			continue
		}
		completed, closed := d == jiexuv1.CaseState_CASE_STATE_COMPLETED, og == jiexuv1.CaseState_CASE_STATE_CLOSED
		if completed != closed {
			add(inv, "case %s ended differently: destination %s, origin %s", id, render.Label(d), render.Label(og))
		}
		if s.dest.GetPerson().GetIdNumber() != "" && s.origin.GetPerson().GetIdNumber() != "" &&
			s.dest.GetPerson().GetIdNumber() != s.origin.GetPerson().GetIdNumber() {
			add(inv, "case %s is about %s at the destination and %s at the origin", id,
				rules.MaskID(s.dest.GetPerson().GetIdNumber()), rules.MaskID(s.origin.GetPerson().GetIdNumber()))
		}
	}
}

func checkMoney(o *Outcome, regions []string, add func(string, string, ...any)) {
	have := map[string]int64{}
	caseOwner := map[string]string{}
	for _, r := range regions {
		d := o.Stores[r]
		for _, e := range d.Enrolments {
			for _, p := range e.GetPeriods() {
				have[e.GetPerson().GetIdNumber()] += p.GetBalanceFen() + p.GetHeldFen()
			}
		}
		for _, c := range d.Cases {
			if id := c.GetPerson().GetIdNumber(); id != "" {
				caseOwner[c.GetCaseId()] = id
			}
			if c.GetSide() == jiexuv1.CaseSide_CASE_SIDE_DESTINATION && c.GetState() == jiexuv1.CaseState_CASE_STATE_FUNDED {
				have[c.GetPerson().GetIdNumber()] += c.GetAmountFen()
			}
		}
	}
	for _, r := range regions {
		d := o.Stores[r]
		for _, m := range append(slices.Clone(d.Pending), d.Dead...) {
			if m.GetDead() && m.GetDelivered() {
				continue // acknowledged: the money arrived
			}
			amount, id, err := inFlight(m)
			if err != nil {
				add("money-per-person", "%s: queued %s for case %s does not decode: %v", r, method(m), m.GetCaseId(), err)
				continue
			}
			if id == "" {
				id = caseOwner[m.GetCaseId()]
			}
			have[id] += amount
		}
	}
	var before, after int64
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for id := range o.Baseline {
			seen[id] = true
			if !yield(id) {
				return
			}
		}
		for id := range have {
			if !seen[id] && !yield(id) {
				return
			}
		}
	}) {
		before += o.Baseline[id]
		after += have[id]
		if o.Baseline[id] != have[id] {
			add("money-per-person", "%s had %s before the run and %s after (balances, held amounts, FUNDED cases and queued remittances on every node)",
				rules.MaskID(id), rules.AmountFigures(o.Baseline[id]), rules.AmountFigures(have[id]))
		}
	}
	if before != after {
		add("money-total", "the network held %d fen before the run and %d after", before, after)
	}
}

// inFlight returns the money a queued message carries and, when it names
// one, the person.
func inFlight(m *jiexuv1.OutboxMessage) (int64, string, error) {
	switch method(m) {
	case "Remit":
		var r jiexuv1.RemitRequest
		if err := proto.Unmarshal(m.GetPayload(), &r); err != nil {
			return 0, "", err
		}
		return r.GetAmountFen(), r.GetIdNumber(), nil
	case "ReturnRemittance":
		var r jiexuv1.ReturnRemittanceRequest
		if err := proto.Unmarshal(m.GetPayload(), &r); err != nil {
			return 0, "", err
		}
		return r.GetAmountFen(), "", nil
	}
	return 0, "", nil
}

func checkSerials(o *Outcome, regions []string, add func(string, string, ...any)) {
	const inv = "serials"
	holders := map[string]map[string]bool{} // certificate number → people
	for _, r := range regions {
		d := o.Stores[r]
		byYear := map[int32][]uint32{}
		for _, c := range d.Certificates {
			if holders[c.GetNumber()] == nil {
				holders[c.GetNumber()] = map[string]bool{}
			}
			holders[c.GetNumber()][c.GetPerson().GetIdNumber()] = true
			if c.GetOriginRegion() == r {
				byYear[c.GetYear()] = append(byYear[c.GetYear()], c.GetSerial())
			}
		}
		jumps := map[string][][2]uint64{}
		for _, rs := range d.Identity.GetRestores() {
			for _, j := range rs.GetJumps() {
				jumps[j.GetName()] = append(jumps[j.GetName()], [2]uint64{j.GetFrom(), j.GetTo()})
			}
		}
		for year, serials := range byYear {
			slices.Sort(serials)
			name := "cert/" + strconv.Itoa(int(year))
			allowed := func(gapFrom, gapTo uint64) bool { // serials gapFrom+1 .. gapTo-1 missing
				for _, j := range jumps[name] {
					if gapFrom >= j[0] && gapTo <= j[1]+1 {
						return true
					}
				}
				return false
			}
			prev := uint64(0)
			for _, s := range serials {
				switch {
				case uint64(s) == prev:
					add(inv, "%s issued serial %d of %d twice", r, s, year)
				case uint64(s) != prev+1 && !allowed(prev, uint64(s)):
					add(inv, "%s skipped serials %d..%d of %d", r, prev+1, s-1, year)
				}
				prev = uint64(s)
			}
			if c := d.Counters[name]; c < prev {
				add(inv, "%s's counter %s is %d, below serial %d it issued", r, name, c, prev)
			}
		}
	}
	for _, num := range slices.SortedFunc(func(yield func(string) bool) {
		for n := range holders {
			if !yield(n) {
				return
			}
		}
	}, cmp.Compare[string]) {
		if len(holders[num]) > 1 {
			add(inv, "certificate %s is held by %d people", num, len(holders[num]))
		}
	}
}
