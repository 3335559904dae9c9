package registry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Router resolves division codes to nodes with longest-prefix routing over a
// snapshot, following codes no longer in force to their successors. It is
// immutable; build a new one for each snapshot.
type Router struct {
	table    *Table
	lenient  bool
	byRegion map[string]*jiexuv1.Node
	// former maps a node's former region codes to its region.
	former map[string]string
	// served maps every division code a node claims (its region, its
	// serves list and its former regions) to the node's region.
	served map[string]string
	// decisions maps a former code whose area was split to the successor
	// the registry routes it to.
	decisions     map[string]string
	decisionsList []*jiexuv1.SuccessorDecision
}

// RouterOption configures NewRouter.
type RouterOption func(*Router)

// AllowUnknownCodes makes a router accept regions and served codes that its
// table does not know (well-formed, but newer than the table), routing them
// by exact match only. A node uses it so that a snapshot naming a division
// created after its table was published is not refused as a whole; the
// registry, which writes snapshots, stays strict. Grouping rows of older
// tables (429000, 500100 …) are refused all the same.
func AllowUnknownCodes() RouterOption { return func(r *Router) { r.lenient = true } }

// WithDecisions gives the router the registry's decisions for codes whose
// area was split between nodes.
func WithDecisions(ds []*jiexuv1.SuccessorDecision) RouterOption {
	return func(r *Router) { r.decisionsList = ds }
}

// SnapshotRouter builds the router for a snapshot's nodes and decisions.
func SnapshotRouter(t *Table, snap *jiexuv1.Snapshot, opts ...RouterOption) (*Router, error) {
	return NewRouter(t, snap.GetNodes(), append(opts, WithDecisions(snap.GetSuccessorDecisions()))...)
}

// checkCode applies the table to a code a node claims as its region or
// serves: a place in force.
func (r *Router) checkCode(code string) error {
	err := r.table.CheckPlace(code)
	if r.lenient && errors.Is(err, ErrUnknownDivision) {
		return nil
	}
	return err
}

// checkFormer applies the table to a former region: any code it knows
// (usually one no longer in force; a code in force when a node took over
// another's region), never a grouping row.
func (r *Router) checkFormer(code string) error {
	err := r.table.CheckDivision(code)
	if r.lenient && errors.Is(err, ErrUnknownDivision) {
		return nil
	}
	return err
}

// NewRouter checks a directory of nodes against the table and indexes it.
// Every region and served code must be a place in force, every former
// region a code the table knows, no division may be claimed twice, and
// every decision must pick one of its code's successors.
func NewRouter(t *Table, nodes []*jiexuv1.Node, opts ...RouterOption) (*Router, error) {
	r := &Router{table: t, byRegion: map[string]*jiexuv1.Node{}, former: map[string]string{}, served: map[string]string{}, decisions: map[string]string{}}
	for _, o := range opts {
		o(r)
	}
	claim := func(code, region string) error {
		if other, dup := r.served[code]; dup && other != region {
			return fmt.Errorf("%w: %s claimed by %s and %s", ErrDuplicateNode, code, other, region)
		}
		r.served[code] = region
		return nil
	}
	for _, n := range nodes {
		region := n.GetRegion()
		if err := r.checkCode(region); err != nil {
			return nil, fmt.Errorf("node %q: region: %w", region, err)
		}
		if _, dup := r.byRegion[region]; dup {
			return nil, fmt.Errorf("%w: region %s registered twice", ErrDuplicateNode, region)
		}
		r.byRegion[region] = n
		for _, code := range append([]string{region}, n.GetServes()...) {
			if err := r.checkCode(code); err != nil {
				return nil, fmt.Errorf("node %s: serves: %w", region, err)
			}
			if err := claim(code, region); err != nil {
				return nil, err
			}
		}
		for _, code := range n.GetFormerRegions() {
			if err := r.checkFormer(code); err != nil {
				return nil, fmt.Errorf("node %s: former_regions: %w", region, err)
			}
			if code == region {
				return nil, fmt.Errorf("node %s: former_regions: %s is the node's region", region, code)
			}
			if err := claim(code, region); err != nil {
				return nil, err
			}
			r.former[code] = region
		}
	}
	for code := range r.former {
		if _, ok := r.byRegion[code]; ok {
			return nil, fmt.Errorf("%w: %s is a registered region and %s's former region", ErrDuplicateNode, code, r.former[code])
		}
	}
	for _, d := range r.decisionsList {
		if err := r.checkDecision(d); err != nil {
			return nil, err
		}
		r.decisions[d.GetCode()] = d.GetSuccessor()
	}
	return r, nil
}

// checkDecision: the code is no longer in force and the successor is one of
// the codes in force its area went to.
func (r *Router) checkDecision(d *jiexuv1.SuccessorDecision) error {
	code, succ := d.GetCode(), d.GetSuccessor()
	if CheckCodeSyntax(code) != nil || CheckCodeSyntax(succ) != nil {
		return fmt.Errorf("%w: %q → %q: codes must be 6 digits", ErrBadDecision, truncate(code), truncate(succ))
	}
	if _, dup := r.decisions[code]; dup {
		return fmt.Errorf("%w: %s decided twice", ErrBadDecision, code)
	}
	f, err := r.table.Fate(code)
	switch {
	case r.lenient && errors.Is(err, ErrUnknownDivision):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrBadDecision, code, err)
	case r.table.InForce(code):
		return fmt.Errorf("%w: %s is in force; only a former code is decided", ErrBadDecision, code)
	}
	for _, l := range f.Now {
		if l.Code == succ {
			return nil
		}
	}
	if r.lenient && !r.table.InForce(succ) {
		return nil
	}
	return fmt.Errorf("%w: %s is not a successor of %s (its area went to %s)", ErrBadDecision, succ, code, lineageCodes(f.Now))
}

func lineageCodes(ls []Lineage) string {
	codes := make([]string, len(ls))
	for i, l := range ls {
		codes[i] = l.Code
	}
	return strings.Join(codes, ", ")
}

// Route is how a division code reached a node; String explains it for an
// operator: "330103 (abolished 2021) → 330105 → node 330100".
type Route struct {
	// Code is the division code asked for.
	Code string
	// Target is the code routed by: Code itself when it is in force or
	// claimed by a node, else the successor in force chosen.
	Target string
	// Steps are the changes from Code to Target, empty when they are one.
	Steps []Step
	// Candidates are every code in force Code's area went to, when more
	// than one (a split); all served by Node unless Decided.
	Candidates []string
	// Decided is set when the registry's directory chose Target among
	// Candidates.
	Decided bool
	// Former is set when Code is a former region of Node.
	Former bool
	// Chain are the codes tried for Target, innermost first, up to the one
	// served.
	Chain []string
	// Node is the node that serves Target.
	Node *jiexuv1.Node
}

// String explains the route: "150781 → node 150700",
// "330103 (abolished 2021) → 330105 → node 330100",
// "130421 (abolished 2016; split into 130402, 130403, all served here) → 130402 → node 130400".
func (rt Route) String() string {
	var b strings.Builder
	b.WriteString(rt.Code)
	switch {
	case rt.Former:
		fmt.Fprintf(&b, " (former region of node %s)", rt.Node.GetRegion())
	case len(rt.Steps) > 0:
		for i, s := range rt.Steps {
			fmt.Fprintf(&b, " (%s %d", s.Status, s.Year)
			if s.Inferred {
				b.WriteString(", successor inferred from its counties")
			}
			if i == len(rt.Steps)-1 && len(rt.Candidates) > 1 {
				fmt.Fprintf(&b, "; split into %s", strings.Join(rt.Candidates, ", "))
				if rt.Decided {
					fmt.Fprintf(&b, "; the registry routes it to %s", rt.Target)
				} else {
					b.WriteString(", all served by one node")
				}
			}
			fmt.Fprintf(&b, ") → %s", s.To)
		}
	}
	fmt.Fprintf(&b, " → node %s", rt.Node.GetRegion())
	return b.String()
}

// Route resolves a division code to the node serving it, and says how: a
// code claimed by a node (its region, a served code, a former region) goes
// to it; a place in force goes to its own node if one is registered, else
// its prefecture's, else its province's; a code no longer in force goes
// where its successors in force go. A code whose area went to several
// codes served by different nodes is ErrSplitDivision listing them, unless
// the registry decided which one it routes to.
func (r *Router) Route(code string) (Route, error) {
	if err := CheckCodeSyntax(code); err != nil {
		return Route{}, fmt.Errorf("%w: %q", err, truncate(code))
	}
	if region, ok := r.served[code]; ok {
		_, former := r.former[code]
		return Route{Code: code, Target: code, Chain: []string{code}, Former: former, Node: r.byRegion[region]}, nil
	}
	if r.table.InForce(code) {
		return r.routeInForce(code)
	}
	if _, grouping := notPlaces[code]; grouping {
		return Route{}, r.table.CheckPlace(code)
	}
	f, err := r.table.Fate(code)
	if err != nil {
		return Route{}, err
	}
	if len(f.Now) == 0 {
		return Route{}, fmt.Errorf("%w: %s %s was %s in %d and history names no successor", ErrUnserved, code, f.Period.Name, f.Period.Status, f.Period.Until)
	}
	var candidates []string
	for _, l := range f.Now {
		candidates = append(candidates, l.Code)
	}
	if succ, ok := r.decisions[code]; ok {
		steps := []Step{{From: code, Status: f.Period.Status, Year: f.Period.Until, To: succ}}
		for _, l := range f.Now {
			if l.Code == succ {
				steps = l.Steps
			}
		}
		rt, err := r.routeInForce(succ)
		if err != nil {
			return Route{}, fmt.Errorf("%s's successor %s (the registry's decision): %w", code, succ, err)
		}
		rt.Code, rt.Steps, rt.Candidates, rt.Decided = code, steps, candidates, len(candidates) > 1
		return rt, nil
	}
	var routes []Route
	var errs []string
	nodes := map[string]bool{}
	for _, l := range f.Now {
		rt, err := r.routeInForce(l.Code)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", l.Code, err))
			nodes[""] = true
			continue
		}
		rt.Code, rt.Steps = code, l.Steps
		if len(candidates) > 1 {
			rt.Candidates = candidates
		}
		routes = append(routes, rt)
		nodes[rt.Node.GetRegion()] = true
	}
	switch {
	case len(routes) == 0:
		return Route{}, fmt.Errorf("%w: %s %s was %s in %d; its successors: %s", ErrUnserved, code, f.Period.Name, f.Period.Status, f.Period.Until, strings.Join(errs, "; "))
	case len(nodes) == 1:
		return routes[0], nil
	}
	var served []string
	for _, rt := range routes {
		served = append(served, fmt.Sprintf("%s → node %s", rt.Target, rt.Node.GetRegion()))
	}
	served = append(served, errs...)
	return Route{}, fmt.Errorf("%w: %s %s was %s in %d and split into %s (%s); name one of them, or have the registry decide ('jiexu registry decide --code %s --successor CODE')",
		ErrSplitDivision, code, f.Period.Name, f.Period.Status, f.Period.Until, strings.Join(candidates, ", "), strings.Join(served, "; "), code)
}

// routeInForce routes a place in force by longest prefix.
func (r *Router) routeInForce(code string) (Route, error) {
	chain, err := r.table.Chain(code)
	if err != nil {
		if region, ok := r.served[code]; ok && r.lenient && errors.Is(err, ErrUnknownDivision) {
			return Route{Code: code, Target: code, Chain: []string{code}, Node: r.byRegion[region]}, nil
		}
		return Route{}, err
	}
	for i, c := range chain {
		if region, ok := r.served[c]; ok {
			return Route{Code: code, Target: code, Chain: chain[:i+1], Node: r.byRegion[region]}, nil
		}
	}
	return Route{}, fmt.Errorf("%w: %s (tried %v)", ErrUnserved, code, chain)
}

// Resolve returns the node serving a division; Route says how.
func (r *Router) Resolve(code string) (*jiexuv1.Node, error) {
	rt, err := r.Route(code)
	if err != nil {
		return nil, err
	}
	return rt.Node, nil
}

// Node returns the node registered for a region, or for a region it used to
// have (former_regions): messages queued under the old code still reach it.
func (r *Router) Node(region string) (*jiexuv1.Node, error) {
	if n, ok := r.byRegion[r.Canonical(region)]; ok {
		return n, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownNode, region)
}

// Canonical returns the region a node is registered under now for one of
// its former regions, and any other code unchanged. Two codes name the same
// node when their canonical forms are equal.
func (r *Router) Canonical(region string) string {
	if now, ok := r.former[region]; ok {
		return now
	}
	return region
}

// SameNode reports whether two region codes name the same registered node
// (a node and its former regions), or are equal.
func (r *Router) SameNode(a, b string) bool {
	return a == b || r.Canonical(a) == r.Canonical(b)
}

// CertIssuer finds the node that issued certificate numbers beginning with
// abbrev and name: the node of the place in force with that name, or the
// node whose former region had it when the certificate was issued.
func (r *Router) CertIssuer(abbrev, name string) (*jiexuv1.Node, error) {
	if code, ok := r.table.CertRegion(abbrev, name); ok {
		if n, err := r.Node(code); err == nil {
			return n, nil
		}
	}
	for _, code := range slices.Sorted(maps.Keys(r.former)) {
		if a, n, ok := r.table.formerCertName(code); ok && a == abbrev && n == name {
			return r.byRegion[r.former[code]], nil
		}
	}
	return nil, fmt.Errorf("%w: no registered node numbers its certificates %s%s…", ErrUnserved, abbrev, name)
}

// Regions returns the registered regions in order.
func (r *Router) Regions() []string {
	out := make([]string, 0, len(r.byRegion))
	for k := range r.byRegion {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Table returns the division table the router uses.
func (r *Router) Table() *Table { return r.table }
