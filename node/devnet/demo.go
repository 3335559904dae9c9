package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/render"
	"jiexu/node/rules"
	"jiexu/node/transfer"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// DemoOptions configures Demo.
type DemoOptions struct {
	// Dir is where the network is written; empty means a new temporary folder.
	Dir     string
	Regions []string
	// PerPair is how many people move from each region to the next.
	PerPair int
	// Keep leaves the network running until ctx ends.
	Keep bool
	Out  io.Writer
	// Timeout bounds the wait for every case to settle.
	Timeout time.Duration
}

// ImportAll loads every node's synthetic people through its agency API.
func (nw *Network) ImportAll(ctx context.Context) error {
	for _, nl := range nw.Layout.Nodes {
		if _, err := nw.Clients[nl.Region].ImportRecords(ctx, &jiexuv1.ImportRecordsRequest{Records: nl.People}); err != nil {
			return fmt.Errorf("import into %s: %w", nl.Region, err)
		}
	}
	return nil
}

// TotalBalance sums every personal-account balance, and the money held for
// people, on every running node: what the network must conserve.
func (nw *Network) TotalBalance(ctx context.Context) (int64, error) {
	var sum int64
	for region, c := range nw.Clients {
		if nw.Node(region) == nil {
			continue // stopped
		}
		token := ""
		for {
			resp, err := c.ListEnrolments(ctx, &jiexuv1.ListEnrolmentsRequest{PageSize: 1000, PageToken: token})
			if err != nil {
				return 0, fmt.Errorf("%s: %w", region, err)
			}
			for _, e := range resp.GetEnrolments() {
				for _, p := range e.GetPeriods() {
					sum += p.GetBalanceFen() + p.GetHeldFen()
				}
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
	}
	return sum, nil
}

// Story is what happens to one person in the demo, in the measures' order
// of events (DOMAIN.md rule 2).
type Story int

// The stories.
const (
	// Moved: the person left the origin, which suspended the enrolment and
	// issued the certificate at once; enrolled at the destination; applied
	// presenting the certificate. For an NCMS member: joined an urban scheme,
	// and the NCMS participation ended by itself.
	Moved Story = iota
	// Waits: the person applied while still enrolled at the origin; the case
	// waits there, visibly, until the origin suspends the enrolment.
	Waits
	// Withdrawn: the person applied while still enrolled, then withdrew (撤销).
	Withdrawn
	// RefusedByOperator: still enrolled at the origin, whose operator refuses
	// the transfer: 未中止参保.
	RefusedByOperator
	// Unknown: the origin never enrolled the person: 未参保.
	Unknown
	// Returned: the person's enrolment at the destination left the employee
	// scheme before the balance arrived, so the destination returns it (退回).
	Returned
)

var storyText = map[Story]string{
	Moved:             "suspended at leaving, certificate issued; enrolled here; applied with it",
	Waits:             "applied while still enrolled at the origin; waited for its suspension",
	Withdrawn:         "applied while still enrolled at the origin; withdrew (撤销)",
	RefusedByOperator: "applied while still enrolled at the origin; refused: 未中止参保",
	Unknown:           "never enrolled at the origin: refused, 未参保",
	Returned:          "enrolment here left the employee scheme: balance returned (退回)",
}

func (s Story) String() string { return storyText[s] }

// text is the story as it went for one person.
func (p *Planned) text() string {
	if p.Story == Moved && p.Person.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS {
		return "joined an urban scheme: the NCMS participation ended by itself, on the card number"
	}
	return p.Story.String()
}

// Planned is one transfer of a demo batch and the ends it must reach.
type Planned struct {
	Person      *jiexuv1.Record // as enrolled at the origin
	Origin      string          // division code given by the applicant
	From        string          // the origin node's region
	Destination string
	Story       Story
	// Want is the end state on the destination side, WantOrigin on the origin side.
	Want, WantOrigin jiexuv1.CaseState
	CaseID           string
}

// Plan picks transfers: perPair people from each region to the next
// insurance agency (so an NCMS office's people join an urban scheme, and
// nobody's personal account moves into NCMS, which has none), the origin
// named once by a county code so routing is longest-prefix; then one person
// for each of the other stories, between the first two insurance agencies.
func Plan(l *Layout, perPair int, now time.Time) []*Planned {
	var plan []*Planned
	t := registry.DefaultTable()
	used := map[string]int{}
	var pairs [][2]NodeLayout
	for i, from := range l.Nodes {
		to := l.Nodes[(i+1)%len(l.Nodes)]
		for k := 1; k < len(l.Nodes) && to.Kind == "ncms"; k++ {
			to = l.Nodes[(i+1+k)%len(l.Nodes)]
		}
		if to.Region == from.Region || to.Kind == "ncms" {
			continue
		}
		pairs = append(pairs, [2]NodeLayout{from, to})
		for k := 0; k < perPair && k < len(from.People); k++ {
			origin := from.Region
			if k == 0 {
				origin = countyOrSelf(t, from.Region, l) // e.g. 150702 → the 150700 node
			}
			plan = append(plan, planned(from, to, from.People[used[from.Region]], origin, Moved))
			used[from.Region]++
		}
	}
	// The other stories, from the first insurance agency with people to spare.
	for _, pair := range pairs {
		from, to := pair[0], pair[1]
		if from.Kind == "ncms" || len(from.People)-used[from.Region] < 4 {
			continue
		}
		// Employees with a balance: a resident joining the employee scheme
		// elsewhere ends by itself and would not wait for a suspension.
		rest := slices.Clone(from.People[used[from.Region]:])
		for _, st := range []Story{Waits, Withdrawn, RefusedByOperator, Returned} {
			i := firstEmployee(rest)
			plan = append(plan, planned(from, to, rest[i], from.Region, st))
			rest = slices.Delete(rest, i, i+1)
		}
		rng := rand.New(rand.NewPCG(uint64(now.UnixNano()), 7))
		stranger := SyntheticPeople(rng, t, to.Region, "insurance", 1, now)[0]
		plan = append(plan, planned(from, to, stranger, from.Region, Unknown))
		break
	}
	return plan
}

// firstEmployee is the index of the first employee with a balance in rs,
// or 0.
func firstEmployee(rs []*jiexuv1.Record) int {
	for i, r := range rs {
		if r.GetScheme() == jiexuv1.Scheme_SCHEME_EMPLOYEE && r.GetBalanceFen() > 0 {
			return i
		}
	}
	return 0
}

func planned(from, to NodeLayout, p *jiexuv1.Record, origin string, st Story) *Planned {
	pl := &Planned{Person: p, Origin: origin, From: from.Region, Destination: to.Region, Story: st,
		Want: jiexuv1.CaseState_CASE_STATE_COMPLETED, WantOrigin: jiexuv1.CaseState_CASE_STATE_CLOSED}
	switch st {
	case Withdrawn:
		pl.Want, pl.WantOrigin = jiexuv1.CaseState_CASE_STATE_WITHDRAWN, jiexuv1.CaseState_CASE_STATE_WITHDRAWN
	case RefusedByOperator, Unknown:
		pl.Want, pl.WantOrigin = jiexuv1.CaseState_CASE_STATE_REFUSED, jiexuv1.CaseState_CASE_STATE_REFUSED
	case Returned:
		pl.WantOrigin = jiexuv1.CaseState_CASE_STATE_RETURNED
	}
	return pl
}

// countyOrSelf returns a county under region that no other node serves, so
// the transfer still routes to region's node; region itself when none.
func countyOrSelf(t *registry.Table, region string, l *Layout) string {
	if region[4:] != "00" {
		return region
	}
	for i := 2; i < 99; i++ {
		code := fmt.Sprintf("%s%02d", region[:4], i)
		if d, err := t.Lookup(code); err != nil || d.Level != registry.LevelCounty {
			continue
		}
		taken := false
		for _, n := range l.Nodes {
			taken = taken || n.Region == code
		}
		if !taken {
			return code
		}
	}
	return region
}

// DestinationRecord is a person's new enrolment at a destination, from this
// month: the employee scheme, or the resident scheme for someone leaving
// NCMS (a rural migrant settling in town), or NCMS at an NCMS office.
func DestinationRecord(p *jiexuv1.Record, dest NodeLayout, now time.Time) *jiexuv1.Record {
	person := p.GetPerson()
	rec := &jiexuv1.Record{
		Person:       &jiexuv1.Person{Name: person.Name, IdNumber: person.IdNumber, HouseholdType: person.HouseholdType, HouseholdPlace: person.HouseholdPlace},
		Scheme:       jiexuv1.Scheme_SCHEME_EMPLOYEE,
		Division:     dest.Region,
		EnrolledFrom: rules.YearMonthOf(now),
		Status:       jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE,
		RegisteredOn: rules.DateOf(now),
	}
	if p.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS {
		rec.Scheme = jiexuv1.Scheme_SCHEME_RESIDENT // a rural migrant settling in town
	}
	if dest.Kind == "ncms" {
		rec.Scheme = jiexuv1.Scheme_SCHEME_NCMS
		rec.Person.HouseholdHeadName, rec.Person.HouseholdHeadIdNumber = person.Name, person.IdNumber
	}
	return rec
}

// Proof is what a person who left presents at the destination: the number
// and verification code of the certificate the origin issued at the
// suspension, read here from the origin's own record as the person would
// read them off the paper; or, for an NCMS member, the card number.
type Proof struct {
	Certificate, Code, Card string
}

// ProofOf reads a person's proof from the origin.
func ProofOf(ctx context.Context, origin jiexuv1.AgencyServiceClient, p *jiexuv1.Record) (Proof, error) {
	if p.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS {
		return Proof{Card: p.GetPerson().GetInsuranceNumber()}, nil
	}
	resp, err := origin.GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: p.GetPerson().GetIdNumber()})
	if err != nil {
		return Proof{}, err
	}
	ps := resp.GetEnrolment().GetPeriods()
	number := ps[len(ps)-1].GetCertificateNumber()
	if number == "" {
		return Proof{}, nil
	}
	got, err := origin.GetCertificate(ctx, &jiexuv1.GetCertificateRequest{Number: number})
	if err != nil {
		return Proof{}, err
	}
	return Proof{Certificate: number, Code: rules.VerificationCode(got.GetCertificate())}, nil
}

// SuspendAtOrigin suspends a person's enrolment at the origin, as it does
// when the person leaves: the last month is the month before now, and the
// certificate is issued at that moment. NCMS participations are not
// suspended: they end by themselves when the person joins an urban scheme.
func (nw *Network) SuspendAtOrigin(ctx context.Context, p *Planned, now time.Time) (*jiexuv1.SuspendEnrolmentResponse, error) {
	if p.Person.GetScheme() == jiexuv1.Scheme_SCHEME_NCMS || p.Story == Unknown {
		return nil, nil
	}
	last := rules.YearMonthOf(time.Date(now.In(rules.CST).Year(), now.In(rules.CST).Month(), 0, 0, 0, 0, 0, rules.CST))
	if rules.MonthIndex(last) < rules.MonthIndex(p.Person.GetEnrolledFrom()) {
		last = p.Person.GetEnrolledFrom()
	}
	resp, err := nw.Clients[p.From].SuspendEnrolment(ctx, &jiexuv1.SuspendEnrolmentRequest{
		IdNumber: p.Person.GetPerson().GetIdNumber(), LastMonth: last, SuspendedOn: rules.DateOf(now),
		ConfirmWaiting: true}) // the operator who suspends knows the person and the waiting application
	if err != nil {
		return nil, fmt.Errorf("suspend at %s: %w", p.From, err)
	}
	return resp, nil
}

// Apply enrols each planned person at the destination and applies there.
// The people who moved are suspended at their origin first, as they are
// when they leave; the others are still enrolled there when they apply.
func (nw *Network) Apply(ctx context.Context, plan []*Planned, now time.Time) error {
	for _, p := range plan {
		if p.Story == Moved {
			if _, err := nw.SuspendAtOrigin(ctx, p, now); err != nil {
				return err
			}
		}
	}
	for _, p := range plan {
		c := nw.Clients[p.Destination]
		if _, err := c.PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: DestinationRecord(p.Person, nw.layoutMust(p.Destination), now)}); err != nil {
			return fmt.Errorf("enrol at %s: %w", p.Destination, err)
		}
		// The person presents the certificate (or the NCMS card) at the
		// destination: the origin acts on it at once.
		var proof Proof
		if p.Story == Moved {
			var err error
			if proof, err = ProofOf(ctx, nw.Clients[p.From], p.Person); err != nil {
				return err
			}
		}
		resp, err := c.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: p.Person.GetPerson().GetIdNumber(), Name: p.Person.GetPerson().GetName(),
			OriginDivision: p.Origin, CertificateNumber: proof.Certificate, VerificationCode: proof.Code, OriginInsuranceNumber: proof.Card})
		if err != nil {
			return fmt.Errorf("apply at %s: %w", p.Destination, err)
		}
		p.CaseID = resp.GetCase().GetCaseId()
	}
	return nil
}

func (nw *Network) layoutMust(region string) NodeLayout {
	nl, _ := nw.layoutOf(region)
	return nl
}

// Act plays the second half of the stories whose cases wait at the origin:
// it waits until each waits there, then the origin suspends, the applicant
// withdraws, the origin's operator refuses, or the destination's enrolment
// changes scheme before the origin suspends.
func (nw *Network) Act(ctx context.Context, plan []*Planned, now time.Time, timeout time.Duration) error {
	for _, p := range plan {
		switch p.Story {
		case Waits, Withdrawn, RefusedByOperator, Returned:
		default:
			continue
		}
		if _, err := nw.WaitState(ctx, p.From, p.CaseID, jiexuv1.CaseState_CASE_STATE_WAITING_SUSPENSION, timeout); err != nil {
			return err
		}
		var err error
		switch p.Story {
		case Waits:
			_, err = nw.SuspendAtOrigin(ctx, p, now)
		case Withdrawn:
			_, err = nw.Clients[p.Destination].WithdrawCase(ctx, &jiexuv1.WithdrawCaseRequest{CaseId: p.CaseID, Detail: "找到本地工作，暂不转移 (found work at home)"})
		case RefusedByOperator:
			_, err = nw.Clients[p.From].RefuseCase(ctx, &jiexuv1.RefuseCaseRequest{CaseId: p.CaseID, Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_SUSPENDED})
		case Returned:
			rec := DestinationRecord(p.Person, nw.layoutMust(p.Destination), now)
			rec.Scheme = jiexuv1.Scheme_SCHEME_RESIDENT // the new job ended: the person now pays into the resident scheme
			if _, err = nw.Clients[p.Destination].PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: rec}); err == nil {
				_, err = nw.SuspendAtOrigin(ctx, p, now)
			}
		}
		if err != nil {
			return fmt.Errorf("case %s (%s): %w", p.CaseID, p.Story, err)
		}
	}
	return nil
}

// WaitState polls a case at one node until it reaches a state.
func (nw *Network) WaitState(ctx context.Context, region, caseID string, want jiexuv1.CaseState, timeout time.Duration) (*jiexuv1.Case, error) {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := nw.Clients[region].GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: caseID})
		if err == nil && resp.GetCase().GetState() == want {
			return resp.GetCase(), nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("case %s at %s: not %s after %s (%v, %v)", caseID, region, render.Label(want), timeout, resp.GetCase().GetState(), err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Wait polls until every planned case has ended on both sides or the
// timeout passes, and returns the final destination cases, reporting
// progress to out.
func (nw *Network) Wait(ctx context.Context, plan []*Planned, timeout time.Duration, out io.Writer) (map[string]*jiexuv1.Case, error) {
	deadline := time.Now().Add(timeout)
	cases := map[string]*jiexuv1.Case{}
	lastDone := -1
	for {
		done := 0
		for _, p := range plan {
			resp, err := nw.Clients[p.Destination].GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: p.CaseID})
			if err != nil {
				return nil, err
			}
			cases[p.CaseID] = resp.GetCase()
			if transfer.Terminal(resp.GetCase().GetState()) && nw.originDone(ctx, resp.GetCase()) {
				done++
			}
		}
		if done != lastDone && out != nil {
			fmt.Fprintf(out, "  settled %d/%d\n", done, len(plan))
			lastDone = done
		}
		if done == len(plan) {
			return cases, nil
		}
		if time.Now().After(deadline) {
			return cases, fmt.Errorf("%d of %d cases still open after %s", len(plan)-done, len(plan), timeout)
		}
		select {
		case <-ctx.Done():
			return cases, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// originDone reports whether the origin has finished its side of a case
// too (true when the origin is not part of this network).
func (nw *Network) originDone(ctx context.Context, dest *jiexuv1.Case) bool {
	c, ok := nw.Clients[dest.GetOriginRegion()]
	if !ok {
		return true
	}
	resp, err := c.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: dest.GetCaseId()})
	return err == nil && transfer.Terminal(resp.GetCase().GetState())
}

// Demo writes a network, runs it in this process, plays the stories,
// prints a report, and fails unless every case reached its expected end on
// both sides and the balances across the network are conserved.
func Demo(ctx context.Context, opts DemoOptions) error {
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	if opts.PerPair == 0 {
		opts.PerPair = 3
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "jiexu-demo-"); err != nil {
			return err
		}
		if !opts.Keep {
			defer os.RemoveAll(dir)
		}
	}
	start := time.Now()
	l, err := Init(Options{Dir: dir, Regions: opts.Regions, People: opts.PerPair + 6, Seed: uint64(start.UnixNano())})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "jiexu demo: a network of %d nodes on 127.0.0.1 in %s\n", len(l.Nodes), l.Dir)
	fmt.Fprintf(out, "  registry %s\n", l.RegistryAddr)
	nw, err := Start(ctx, l)
	if err != nil {
		return err
	}
	defer nw.Stop()
	for _, nl := range l.Nodes {
		fmt.Fprintf(out, "  node %s  %-9s %s  %s\n", nl.Region, nl.Kind, nw.Node(nl.Region).Addrs().Listen, nl.Name)
	}
	if err := nw.ImportAll(ctx); err != nil {
		return err
	}
	before, err := nw.TotalBalance(ctx)
	if err != nil {
		return err
	}
	plan := Plan(l, opts.PerPair, start)
	fmt.Fprintf(out, "suspending the people who left their origin (each gets a certificate), enrolling everyone at the destination, applying %d transfers…\n", len(plan))
	applied := time.Now()
	if err := nw.Apply(ctx, plan, start); err != nil {
		return err
	}
	if err := showCertificateAtSuspension(ctx, out, nw, plan); err != nil {
		return err
	}
	if err := nw.Act(ctx, plan, start, opts.Timeout); err != nil {
		return err
	}
	cases, waitErr := nw.Wait(ctx, plan, opts.Timeout, out)
	took := time.Since(applied)
	after, err := nw.TotalBalance(ctx)
	if err != nil {
		return err
	}
	var moved int64
	var failures []string
	tw := render.NewTable(out)
	fmt.Fprintln(tw, "\nCASE\tFROM → TO\tSCHEMES\tDESTINATION\tORIGIN\tCERTIFICATE / REASON\tMOVED\tSTORY")
	for _, p := range plan {
		c := cases[p.CaseID]
		oc := nw.caseAt(ctx, p.From, p.CaseID)
		detail := c.GetCertificateNumber()
		if c.GetRejectReason() != 0 {
			detail = "— " + render.Label(c.GetRejectReason())
		}
		if oc.GetReturnReason() != 0 {
			detail += ", returned: " + render.Label(oc.GetReturnReason())
		}
		fmt.Fprintf(tw, "%s\t%s → %s\t%s → %s\t%s\t%s\t%s\t%s\t%s\n", p.CaseID, c.GetOriginRegion(), p.Destination,
			schemeLabel(c.GetOriginScheme()), schemeLabel(c.GetDestinationScheme()),
			strings.ToUpper(render.Label(c.GetState())), strings.ToUpper(render.Label(oc.GetState())), detail,
			rules.AmountFigures(c.GetAmountFen()), p.text())
		if c.GetFunded() {
			moved += c.GetAmountFen()
		}
		if c.GetState() != p.Want || oc.GetState() != p.WantOrigin {
			failures = append(failures, fmt.Sprintf("case %s (%s) ended %s/%s, want %s/%s", p.CaseID, p.Story,
				render.Label(c.GetState()), render.Label(oc.GetState()), render.Label(p.Want), render.Label(p.WantOrigin)))
		}
	}
	tw.Flush()
	fmt.Fprintf(out, "\nmoved %s between agencies in %s; balances across the network (accounts and money held for people): before %s, after %s\n",
		rules.AmountFigures(moved), took.Round(time.Millisecond), rules.AmountFigures(before), rules.AmountFigures(after))
	if before != after {
		failures = append(failures, fmt.Sprintf("balances not conserved: %d fen before, %d after", before, after))
	}
	if err := showOneCase(ctx, out, nw, plan); err != nil {
		failures = append(failures, err.Error())
	}
	if waitErr != nil {
		failures = append(failures, waitErr.Error())
	}
	if err := nw.Err(); err != nil {
		failures = append(failures, err.Error())
	}
	if len(failures) > 0 {
		return fmt.Errorf("demo failed:\n  %s", strings.Join(failures, "\n  "))
	}
	fmt.Fprintf(out, "OK: %d cases reached their expected end on both sides.\n", len(plan))
	if opts.Keep {
		fmt.Fprintf(out, "\nThe network keeps running (Ctrl-C to stop). Try:\n")
		first := l.Nodes[0]
		fmt.Fprintf(out, "  jiexu transfer list --config %s\n", first.ConfigFile)
		fmt.Fprintf(out, "  jiexu node status --config %s\n", first.ConfigFile)
		fmt.Fprintf(out, "  curl -s http://%s/metrics | grep ^jiexu_\n", nw.Node(first.Region).Addrs().Metrics)
		<-ctx.Done()
	}
	return nil
}

func schemeLabel(s jiexuv1.Scheme) string {
	if s == jiexuv1.Scheme_SCHEME_UNSPECIFIED {
		return "—"
	}
	return render.Label(s)
}

// caseAt returns a node's side of a case, or nil.
func (nw *Network) caseAt(ctx context.Context, region, caseID string) *jiexuv1.Case {
	c, ok := nw.Clients[region]
	if !ok {
		return nil
	}
	resp, err := c.GetCase(ctx, &jiexuv1.GetCaseRequest{CaseId: caseID})
	if err != nil {
		return nil
	}
	return resp.GetCase()
}

// showCertificateAtSuspension prints the certificate one origin issued when
// it suspended a person who left, verified offline against the CA.
func showCertificateAtSuspension(ctx context.Context, out io.Writer, nw *Network, plan []*Planned) error {
	for _, p := range plan {
		if p.Story != Moved || p.Person.GetScheme() != jiexuv1.Scheme_SCHEME_EMPLOYEE {
			continue
		}
		resp, err := nw.Clients[p.From].GetEnrolment(ctx, &jiexuv1.GetEnrolmentRequest{IdNumber: p.Person.GetPerson().GetIdNumber()})
		if err != nil {
			return err
		}
		periods := resp.GetEnrolment().GetPeriods()
		number := periods[len(periods)-1].GetCertificateNumber()
		got, err := nw.Clients[p.From].GetCertificate(ctx, &jiexuv1.GetCertificateRequest{Number: number})
		if err != nil {
			return fmt.Errorf("certificate %s at %s: %w", number, p.From, err)
		}
		ca, err := certs.LoadCertificate(filepath.Join(nw.Layout.CADir, certs.CACertFile))
		if err != nil {
			return err
		}
		cert, err := node.VerifyCertificate(got.GetCertificate(), ca, nil)
		if err != nil {
			return fmt.Errorf("certificate %s does not verify: %w", number, err)
		}
		fmt.Fprintf(out, "\n%s suspended %s on leaving and issued the certificate then (seal verified offline against the CA):\n%s\n",
			p.From, rules.MaskID(p.Person.GetPerson().GetIdNumber()), render.RenderText(got.GetCertificate(), cert))
		return nil
	}
	return errors.New("no employee was suspended with a certificate")
}

// showOneCase prints the destination's side of the case that waited at
// the origin, with each step.
func showOneCase(ctx context.Context, out io.Writer, nw *Network, plan []*Planned) error {
	for _, p := range plan {
		if p.Story != Waits {
			continue
		}
		oc := nw.caseAt(ctx, p.From, p.CaseID)
		if oc == nil {
			return fmt.Errorf("case %s missing at %s", p.CaseID, p.From)
		}
		fmt.Fprintf(out, "\nthe case that waited at the origin for the suspension, as the origin %s saw it:\n", p.From)
		render.FormatCase(out, oc)
		return nil
	}
	return nil
}
