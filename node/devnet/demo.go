package devnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"jiexu/certs"
	"jiexu/node"
	"jiexu/node/render"
	"jiexu/node/rules"
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

// TotalBalance sums every personal-account balance on every running node.
func (nw *Network) TotalBalance(ctx context.Context) (int64, error) {
	var sum int64
	for region, c := range nw.Clients {
		if nw.Node(region) == nil {
			continue // stopped
		}
		resp, err := c.ListRecords(ctx, &jiexuv1.ListRecordsRequest{})
		if err != nil {
			return 0, fmt.Errorf("%s: %w", region, err)
		}
		for _, r := range resp.GetRecords() {
			sum += r.GetBalanceFen()
		}
	}
	return sum, nil
}

// Planned is one transfer of a demo batch and the end it must reach.
type Planned struct {
	Person      *jiexuv1.Record
	Origin      string // division code given by the applicant
	Destination string
	Want        jiexuv1.CaseState
	CaseID      string
}

// Plan picks transfers: perPair people from each region to the next
// insurance agency (so an NCMS office's people join an urban scheme, and
// nobody's personal account moves into NCMS, which has none), the origin
// named once by a county code so routing is longest-prefix, and one person
// the origin has never enrolled, whose case must be rejected.
func Plan(l *Layout, perPair int, now time.Time) []*Planned {
	var plan []*Planned
	t := registry.DefaultTable()
	for i, from := range l.Nodes {
		to := l.Nodes[(i+1)%len(l.Nodes)]
		for k := 1; k < len(l.Nodes) && to.Kind == "ncms"; k++ {
			to = l.Nodes[(i+1+k)%len(l.Nodes)]
		}
		if to.Region == from.Region || to.Kind == "ncms" {
			continue
		}
		for k := 0; k < perPair && k < len(from.People); k++ {
			origin := from.Region
			if k == 0 {
				origin = countyOrSelf(t, from.Region, l) // e.g. 150702 → the 150700 node
			}
			plan = append(plan, &Planned{Person: from.People[k], Origin: origin, Destination: to.Region, Want: jiexuv1.CaseState_CASE_STATE_COMPLETED})
		}
	}
	rng := rand.New(rand.NewPCG(uint64(now.UnixNano()), 7))
	stranger := SyntheticPeople(rng, t, l.Nodes[1].Region, "insurance", 1, now)[0]
	plan = append(plan, &Planned{Person: stranger, Origin: l.Nodes[0].Region, Destination: l.Nodes[1].Region, Want: jiexuv1.CaseState_CASE_STATE_REJECTED})
	return plan
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
		EnrolledFrom: &jiexuv1.YearMonth{Year: int32(now.In(rules.CST).Year()), Month: int32(now.In(rules.CST).Month())},
		Status:       jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE,
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

// Apply enrols each planned person at the destination and applies there.
func (nw *Network) Apply(ctx context.Context, plan []*Planned, now time.Time) error {
	for _, p := range plan {
		var dest NodeLayout
		for _, n := range nw.Layout.Nodes {
			if n.Region == p.Destination {
				dest = n
			}
		}
		c := nw.Clients[p.Destination]
		if _, err := c.PutRecord(ctx, &jiexuv1.PutRecordRequest{Record: DestinationRecord(p.Person, dest, now)}); err != nil {
			return fmt.Errorf("enrol at %s: %w", p.Destination, err)
		}
		resp, err := c.ApplyTransfer(ctx, &jiexuv1.ApplyTransferRequest{IdNumber: p.Person.GetPerson().GetIdNumber(), Name: p.Person.GetPerson().GetName(), OriginDivision: p.Origin})
		if err != nil {
			return fmt.Errorf("apply at %s: %w", p.Destination, err)
		}
		p.CaseID = resp.GetCase().GetCaseId()
	}
	return nil
}

// Wait polls until every planned case has ended or the timeout passes, and
// returns the final cases, reporting progress to out.
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
			if node.Terminal(resp.GetCase().GetState()) {
				if nw.originDone(ctx, resp.GetCase()) {
					done++
				}
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
	return err == nil && node.Terminal(resp.GetCase().GetState())
}

// Demo writes a network, runs it in this process, moves a batch of people,
// prints a report, and fails unless every case reached its expected end and
// the balances across the network are conserved.
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
	l, err := Init(Options{Dir: dir, Regions: opts.Regions, People: opts.PerPair + 5, Seed: uint64(start.UnixNano())})
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
	fmt.Fprintf(out, "applying %d transfers at their destinations…\n", len(plan))
	applied := time.Now()
	if err := nw.Apply(ctx, plan, start); err != nil {
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
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCASE\tFROM → TO\tSCHEMES\tSTATE\tCERTIFICATE\tBALANCE MOVED")
	for _, p := range plan {
		c := cases[p.CaseID]
		cert := c.GetCertificateNumber()
		if c.GetState() == jiexuv1.CaseState_CASE_STATE_REJECTED {
			cert = "— " + render.Label(c.GetRejectReason())
		}
		fmt.Fprintf(tw, "%s\t%s → %s\t%s → %s\t%s\t%s\t%s\n", p.CaseID, c.GetOriginRegion(), p.Destination,
			render.Label(c.GetOriginScheme()), render.Label(c.GetDestinationScheme()),
			strings.ToUpper(render.Label(c.GetState())), cert, rules.AmountFigures(c.GetAmountFen()))
		moved += c.GetAmountFen()
		if c.GetState() != p.Want {
			failures = append(failures, fmt.Sprintf("case %s is %s, want %s", p.CaseID, c.GetState(), p.Want))
		}
	}
	tw.Flush()
	fmt.Fprintf(out, "\nmoved %s between agencies in %s; balances across the network: before %s, after %s\n",
		rules.AmountFigures(moved), took.Round(time.Millisecond), rules.AmountFigures(before), rules.AmountFigures(after))
	if before != after {
		failures = append(failures, fmt.Sprintf("balances not conserved: %d fen before, %d after", before, after))
	}
	if err := showOneCertificate(ctx, out, nw, plan, cases); err != nil {
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
	fmt.Fprintf(out, "OK: %d cases reached their expected end.\n", len(plan))
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

// showOneCertificate prints the first NCMS certificate (or any) after
// verifying it offline against the CA, as a destination would.
func showOneCertificate(ctx context.Context, out io.Writer, nw *Network, plan []*Planned, cases map[string]*jiexuv1.Case) error {
	var pick *Planned
	for _, p := range plan {
		c := cases[p.CaseID]
		if c.GetCertificateNumber() == "" {
			continue
		}
		if pick == nil || c.GetOriginScheme() == jiexuv1.Scheme_SCHEME_NCMS {
			pick = p
		}
	}
	if pick == nil {
		return errors.New("no certificate was delivered")
	}
	c := cases[pick.CaseID]
	resp, err := nw.Clients[pick.Destination].GetCertificate(ctx, &jiexuv1.GetCertificateRequest{Number: c.GetCertificateNumber()})
	if err != nil {
		return fmt.Errorf("certificate %s at destination: %w", c.GetCertificateNumber(), err)
	}
	ca, err := certs.LoadCertificate(filepath.Join(nw.Layout.CADir, certs.CACertFile))
	if err != nil {
		return err
	}
	cert, err := node.VerifyCertificate(resp.GetCertificate(), ca, nil)
	if err != nil {
		return fmt.Errorf("certificate %s does not verify: %w", c.GetCertificateNumber(), err)
	}
	fmt.Fprintf(out, "\ncertificate %s, as the destination received it (seal verified offline against the CA):\n%s\n",
		cert.GetNumber(), render.RenderText(resp.GetCertificate(), cert))
	return nil
}
