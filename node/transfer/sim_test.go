package transfer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// The simulation runs both sides of one case with their ledgers, delivers
// the messages between them in a random order, sometimes twice, fires the
// local actions (the origin's suspension, withdrawals, a refusal) at random
// moments, and checks at the end what the measures require whatever the
// order: money is conserved to the fen, months are recognised at most once
// and only employee to employee, and the two sides end in states that agree
// with each other and with the origin's enrolment.

// simPeriod is one person's period on a side.
type simPeriod struct {
	scheme   jiexuv1.Scheme
	standing Standing
	balance  int64
	held     int64
	months   int32 // recognised from transfers (destination)
}

type simMsg struct {
	toOrigin bool
	in       Input
	amount   int64 // money the message carries
	ackEvent Event // the sender's acknowledgement event, 0 for none
}

type scenario struct {
	originStanding   Standing
	originScheme     jiexuv1.Scheme
	destScheme       jiexuv1.Scheme
	appliedAtOrigin  bool
	suspendAtOrigin  bool // the origin suspends the person at some moment
	withdrawAtDest   bool
	withdrawAtOrigin bool
	refuseAtOrigin   bool
	destLosesAccount bool // the person leaves the employee scheme at the destination midway
	destNotEnrolled  bool // the person is not enrolled at the destination (applied at the origin)
	duplicateAll     bool // every message may be delivered twice
	// proof is how the applicant's certificate (or NCMS card) reaches the
	// origin: presented at the application, presented later, or never (the
	// origin's operator confirms, at the suspension or later, or never).
	proof               proofMode
	confirm             confirmMode
	balance, destBefore int64
}

type proofMode int

const (
	proofNever proofMode = iota
	proofAtApply
	proofLater
)

type confirmMode int

const (
	confirmNever confirmMode = iota
	confirmAtSuspension
	confirmLater
)

func (s scenario) String() string {
	return fmt.Sprintf("%s %s→%s at-origin=%v suspend=%v withdraw-dest=%v withdraw-origin=%v refuse=%v lose-account=%v dest-not-enrolled=%v dup=%v proof=%d confirm=%d",
		s.originStanding, label(s.originScheme.String(), "SCHEME_"), label(s.destScheme.String(), "SCHEME_"), s.appliedAtOrigin,
		s.suspendAtOrigin, s.withdrawAtDest, s.withdrawAtOrigin, s.refuseAtOrigin, s.destLosesAccount, s.destNotEnrolled, s.duplicateAll,
		s.proof, s.confirm)
}

type sim struct {
	t        *testing.T
	rng      *rand.Rand
	sc       scenario
	origin   *jiexuv1.Case
	dest     *jiexuv1.Case
	op, dp   simPeriod
	queue    []simMsg
	inFlight int64
	// presented says the destination holds the applicant's proof.
	presented bool
	months    int32 // months the certificate carries
	// monthsScheme is the destination's scheme when the certificate arrived.
	monthsScheme jiexuv1.Scheme
	log          []string
}

func newSim(t *testing.T, rng *rand.Rand, sc scenario) *sim {
	s := &sim{t: t, rng: rng, sc: sc, months: 36, presented: sc.proof == proofAtApply}
	s.origin = &jiexuv1.Case{CaseId: "c", Side: originSide}
	s.dest = &jiexuv1.Case{CaseId: "c", Side: destinationSide, DestinationScheme: sc.destScheme}
	s.op = simPeriod{scheme: sc.originScheme, standing: sc.originStanding, balance: sc.balance}
	s.dp = simPeriod{scheme: sc.destScheme, standing: Active, balance: sc.destBefore}
	if sc.destNotEnrolled {
		s.dp.standing = NotEnrolled
	}
	return s
}

func (s *sim) total() int64 {
	held := int64(0)
	if s.dest.GetState() == funded {
		held = s.dest.GetAmountFen()
	}
	return s.op.balance + s.op.held + s.dp.balance + held + s.inFlight
}

// step runs an event on one side and carries out its effects.
func (s *sim) step(atOrigin bool, in Input) error {
	c, p := s.dest, &s.dp
	if atOrigin {
		c, p = s.origin, &s.op
		if in.Event == Notice || in.Event == ApplyOut || in.Event == Suspension || in.Event == Confirm {
			in.Standing, in.Scheme, in.Balance = p.standing, p.scheme, p.balance
		}
	} else {
		switch in.Event {
		case Apply, Request:
			in.Standing, in.Scheme = p.standing, p.scheme
		case Certificate, Funds:
			in.Account = p.standing == Active && p.scheme == employee
			in.Scheme = p.scheme
		}
	}
	if atOrigin && in.Event == Notice {
		c.DestinationScheme = s.sc.destScheme
	}
	before := c.GetState()
	_, effects, err := Step(c, in)
	s.log = append(s.log, fmt.Sprintf("%s %s: %s → %s %v %v", sideName(c.GetSide()), in.Event, stateName(before), stateName(c.GetState()), effects, err))
	if err != nil {
		return err
	}
	for _, e := range effects {
		switch e.Kind {
		case SendNotice:
			proof := NoProof
			if s.presented {
				proof = ProofMatches
			}
			s.send(simMsg{toOrigin: true, in: Input{Event: Notice, Proof: proof}, ackEvent: NoticeAcked})
		case SendRequest:
			s.send(simMsg{in: Input{Event: Request}})
		case SendCertificate:
			s.send(simMsg{in: Input{Event: Certificate, CertificateScheme: s.op.scheme, CertificateBalance: s.sc.balance,
				CertificateMonths: s.months, EmployeeMonths: EmployeeMonths(s.op.scheme, s.months, 0, 0)}, ackEvent: CertificateAcked})
		case SendFunds:
			s.send(simMsg{in: Input{Event: Funds, Amount: e.Amount}, amount: e.Amount, ackEvent: FundsAcked})
		case SendConfirmation:
			s.send(simMsg{toOrigin: true, in: Input{Event: Confirmation, Amount: e.Amount}})
		case SendRefusal:
			s.send(simMsg{toOrigin: !atOrigin, in: Input{Event: Refusal, Reason: e.Reason, Detail: e.Detail}})
		case SendWithdrawal:
			s.send(simMsg{toOrigin: true, in: Input{Event: WithdrawRequest}})
		case SendReturn:
			s.send(simMsg{toOrigin: true, in: Input{Event: FundsReturned, Amount: e.Amount, ReturnReason: e.ReturnReason}, amount: e.Amount})
		case EndOnJoining:
			p.standing = Suspended
		case TransferOut:
			if p.standing != Suspended {
				s.t.Fatalf("%s: transfer out of a %s period\n%s", s.sc, p.standing, s.trace())
			}
			p.standing = Gone
			p.balance -= e.Amount
			p.held += p.balance
			p.balance = 0
		case Restore:
			p.standing = Suspended
			p.balance = p.held + e.Amount
			p.held = 0
		case HoldReturned:
			p.held += e.Amount
		case Hold:
		case Credit:
			p.balance += e.Amount
		case AddMonths:
			p.months += e.Months
			s.monthsScheme = p.scheme
		case Assess:
		}
	}
	return nil
}

func (s *sim) send(m simMsg) {
	s.inFlight += m.amount
	s.queue = append(s.queue, m)
}

func (s *sim) trace() string {
	out := ""
	for _, l := range s.log {
		out += "  " + l + "\n"
	}
	return out
}

// run plays the scenario to the end; it reports false when the application
// was refused at once, locally, so that there was nothing to play.
func (s *sim) run() bool {
	start := s.total()
	var first error
	if s.sc.appliedAtOrigin {
		first = s.step(true, Input{Event: ApplyOut})
	} else {
		first = s.step(false, Input{Event: Apply})
	}
	if first != nil {
		if s.origin.GetState() != none || s.dest.GetState() != none {
			s.t.Fatalf("%s: a refused application created a case", s.sc)
		}
		return false
	}
	type action struct {
		atOrigin bool
		in       Input
		fire     func()
	}
	var actions []action
	if s.sc.suspendAtOrigin {
		actions = append(actions, action{fire: func() {
			if s.op.standing == Active {
				s.op.standing = Suspended
				_ = s.step(true, Input{Event: Suspension, Confirmed: s.sc.confirm == confirmAtSuspension})
			}
		}})
	}
	if s.sc.proof == proofLater {
		actions = append(actions, action{fire: func() {
			s.presented = true
			s.local(false, Input{Event: Present})
		}})
	}
	if s.sc.confirm == confirmLater {
		actions = append(actions, action{fire: func() { s.local(true, Input{Event: Confirm}) }})
	}
	if s.sc.withdrawAtDest {
		actions = append(actions, action{fire: func() { s.local(false, Input{Event: Withdraw, Detail: "moved again"}) }})
	}
	if s.sc.withdrawAtOrigin {
		actions = append(actions, action{fire: func() { s.local(true, Input{Event: Withdraw}) }})
	}
	if s.sc.refuseAtOrigin {
		actions = append(actions, action{fire: func() {
			s.local(true, Input{Event: Refuse, Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_SUSPENDED})
		}})
	}
	if s.sc.destLosesAccount {
		actions = append(actions, action{fire: func() { s.dp.scheme = jiexuv1.Scheme_SCHEME_RESIDENT }})
	}
	for steps := 0; len(s.queue) > 0 || len(actions) > 0; steps++ {
		if steps > 1000 {
			s.t.Fatalf("%s: no end after 1000 steps\n%s", s.sc, s.trace())
		}
		if len(actions) > 0 && (len(s.queue) == 0 || s.rng.IntN(3) == 0) {
			i := s.rng.IntN(len(actions))
			a := actions[i]
			actions = slices.Delete(actions, i, i+1)
			a.fire()
			continue
		}
		i := s.rng.IntN(len(s.queue))
		m := s.queue[i]
		dup := s.sc.duplicateAll && s.rng.IntN(2) == 0
		if !dup {
			s.queue = slices.Delete(s.queue, i, i+1)
			s.inFlight -= m.amount
		}
		if err := s.step(m.toOrigin, m.in); errors.Is(err, ErrRetry) {
			if dup { // a copy is dropped; the original stays queued
				continue
			}
			s.queue = append(s.queue, m) // the sender retries later
			s.inFlight += m.amount
			continue
		} else if err != nil {
			s.t.Fatalf("%s: delivering %s failed: %v\n%s", s.sc, m.in.Event, err, s.trace())
		}
		if m.ackEvent != 0 {
			// The receiver committed: the sender hears of it.
			if err := s.step(!m.toOrigin, Input{Event: m.ackEvent}); err != nil {
				s.t.Fatalf("%s: %s failed: %v\n%s", s.sc, m.ackEvent, err, s.trace())
			}
		}
	}
	if end := s.total(); end != start {
		s.t.Fatalf("%s: money not conserved: %d fen at the start, %d at the end\n%s", s.sc, start, end, s.trace())
	}
	s.checkEnd()
	return true
}

// local fires a local action; it may be refused (too late), which changes nothing.
func (s *sim) local(atOrigin bool, in Input) {
	c := s.dest
	if atOrigin {
		c = s.origin
	}
	before := c.GetState()
	if err := s.step(atOrigin, in); err != nil {
		if !errors.Is(err, ErrTooLate) && !errors.Is(err, ErrUnexpected) {
			s.t.Fatalf("%s: %s: %v", s.sc, in.Event, err)
		}
		if c.GetState() != before {
			s.t.Fatalf("%s: a refused %s changed the case", s.sc, in.Event)
		}
	}
}

// endings are the pairs of final states the two sides may agree on.
var endings = map[[2]jiexuv1.CaseState]string{
	{completed, closed}:    "transferred",
	{completed, returned}:  "transferred, balance sent back and held at the origin",
	{refused, refused}:     "refused",
	{withdrawn, withdrawn}: "withdrawn before the origin acted",
	{withdrawn, returned}:  "withdrawn after the origin acted: declined and restored",
	{withdrawn, refused}:   "withdrawn here while the origin refused: both ended, nothing moved",
	{refused, withdrawn}:   "refused here while the origin withdrew: both ended, nothing moved",
	{notified, waiting}:    "waiting for a suspension that never came",
	{notified, confirming}: "waiting for the applicant's proof or the origin's confirmation, which never came",
	{applied, waiting}:     "waiting for a suspension that never came (notice acknowledged late)",
}

func (s *sim) checkEnd() {
	pair := [2]jiexuv1.CaseState{s.dest.GetState(), s.origin.GetState()}
	what, ok := endings[pair]
	if !ok {
		s.t.Fatalf("%s: ended %s / %s, which the sides cannot agree on\n%s", s.sc, stateName(pair[0]), stateName(pair[1]), s.trace())
	}
	if pair[0] == applied {
		s.t.Fatalf("%s: the notice's acknowledgement was lost\n%s", s.sc, s.trace())
	}
	wantMonths := int32(0)
	if pair[0] == completed && s.monthsScheme == 0 {
		s.monthsScheme = s.dp.scheme
	}
	if pair[0] == completed {
		wantMonths = EmployeeMonths(s.sc.originScheme, s.months, 0, 0)
	}
	if s.dp.months != wantMonths {
		s.t.Fatalf("%s (%s): %d months recognised at the destination, want %d\n%s", s.sc, what, s.dp.months, wantMonths, s.trace())
	}
	switch pair[1] {
	case closed:
		if s.op.standing != Gone {
			s.t.Fatalf("%s: origin closed but the period is %s", s.sc, s.op.standing)
		}
	case returned:
		wantStanding := Suspended
		if pair[0] == completed {
			wantStanding = Gone
		}
		if s.op.standing != wantStanding {
			s.t.Fatalf("%s (%s): origin period %s, want %s\n%s", s.sc, what, s.op.standing, wantStanding, s.trace())
		}
	case refused, withdrawn, waiting, confirming:
		if s.op.standing == Gone && s.sc.originStanding != Gone {
			s.t.Fatalf("%s (%s): origin period transferred out but the case did not act\n%s", s.sc, what, s.trace())
		}
	}
	// Money moves only account to account, and only with a completed transfer.
	if pair == [2]jiexuv1.CaseState{completed, closed} && s.dp.balance != s.sc.destBefore+s.dest.GetAmountFen() {
		s.t.Fatalf("%s: destination balance %d, want %d", s.sc, s.dp.balance, s.sc.destBefore+s.dest.GetAmountFen())
	}
	if s.dp.balance != s.sc.destBefore && !(s.sc.originScheme == employee && s.sc.destScheme == employee) {
		s.t.Fatalf("%s: a balance reached a scheme without a personal account\n%s", s.sc, s.trace())
	}
}

func TestSimulatedInterleavings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	standings := []Standing{Active, Suspended, NotEnrolled, NameMismatch, Gone}
	schemes := []jiexuv1.Scheme{employee, jiexuv1.Scheme_SCHEME_RESIDENT, ncms}
	runs := 0
	ends := map[string]int{}
	for _, st := range standings {
		for _, os := range schemes {
			for _, ds := range []jiexuv1.Scheme{employee, jiexuv1.Scheme_SCHEME_RESIDENT} {
				for flags := 0; flags < 1<<8; flags++ {
					sc := scenario{originStanding: st, originScheme: os, destScheme: ds,
						appliedAtOrigin: flags&1 != 0, suspendAtOrigin: flags&2 != 0, withdrawAtDest: flags&4 != 0,
						withdrawAtOrigin: flags&8 != 0, refuseAtOrigin: flags&16 != 0, destLosesAccount: flags&32 != 0,
						duplicateAll: flags&64 != 0, destNotEnrolled: flags&128 != 0, balance: 1640902, destBefore: 500}
					if sc.destNotEnrolled && !sc.appliedAtOrigin {
						continue // the destination's own application is refused locally
					}
					if os == ncms {
						sc.balance = 0 // NCMS has no personal account
					}
					for range 6 {
						sc.proof, sc.confirm = proofMode(rng.IntN(3)), confirmMode(rng.IntN(3))
						s := newSim(t, rng, sc)
						if !s.run() {
							ends["refused locally"]++
							continue
						}
						ends[fmt.Sprintf("%s/%s", stateName(s.dest.GetState()), stateName(s.origin.GetState()))]++
						runs++
					}
				}
			}
		}
	}
	t.Logf("%d runs; endings: %v", runs, ends)
	for pair, what := range endings {
		if pair[0] == applied {
			continue
		}
		if ends[stateName(pair[0])+"/"+stateName(pair[1])] == 0 {
			t.Errorf("no run ended %s (%s): the scenarios do not cover it", stateName(pair[0])+"/"+stateName(pair[1]), what)
		}
	}
}

// TestOrderDoesNotMatter checks that without local choices made midway,
// every order of delivery ends in the same pair of states with the same
// balances.
func TestOrderDoesNotMatter(t *testing.T) {
	for _, sc := range []scenario{
		{originStanding: Suspended, originScheme: employee, destScheme: employee, balance: 1640902, destBefore: 100, proof: proofAtApply},
		{originStanding: Suspended, originScheme: employee, destScheme: employee, balance: 1640902, appliedAtOrigin: true, duplicateAll: true, proof: proofAtApply},
		{originStanding: Active, originScheme: ncms, destScheme: employee, proof: proofAtApply},
		{originStanding: Suspended, originScheme: employee, destScheme: jiexuv1.Scheme_SCHEME_RESIDENT, balance: 32504, proof: proofAtApply},
		{originStanding: Suspended, originScheme: employee, destScheme: employee, balance: 1640902, proof: proofNever},
	} {
		var first string
		for seed := range uint64(200) {
			s := newSim(t, rand.New(rand.NewPCG(seed, 7)), sc)
			s.run()
			got := fmt.Sprintf("%s/%s origin %d+%d destination %d months %d", stateName(s.dest.GetState()), stateName(s.origin.GetState()),
				s.op.balance, s.op.held, s.dp.balance, s.dp.months)
			if first == "" {
				first = got
			} else if got != first {
				t.Fatalf("%s: seed %d ended %q, seed 0 ended %q\n%s", sc, seed, got, first, s.trace())
			}
		}
		t.Logf("%s: %s", sc, first)
	}
}
