package registry

import (
	"errors"
	"fmt"
	"slices"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Router resolves division codes to nodes with longest-prefix routing over a
// snapshot. It is immutable; build a new one for each snapshot.
type Router struct {
	table    *Table
	lenient  bool
	byRegion map[string]*jiexuv1.Node
	// served maps every division code a node claims (its region and its
	// serves list) to the node's region.
	served map[string]string
}

// RouterOption configures NewRouter.
type RouterOption func(*Router)

// AllowUnknownCodes makes a router accept regions and served codes that its
// table does not know (well-formed, but newer than the table), routing them
// by exact match only. A node uses it so that a snapshot naming a division
// created after its table was published is not refused as a whole; the
// registry, which writes snapshots, stays strict.
func AllowUnknownCodes() RouterOption { return func(r *Router) { r.lenient = true } }

// checkCode applies the table to a code a node claims.
func (r *Router) checkCode(code string) error {
	err := r.table.CheckPlace(code)
	if r.lenient && errors.Is(err, ErrUnknownDivision) {
		return nil
	}
	return err
}

// NewRouter checks a directory of nodes against the table and indexes it.
// Every region and served code must be a real place, and no division may be
// claimed twice.
func NewRouter(t *Table, nodes []*jiexuv1.Node, opts ...RouterOption) (*Router, error) {
	r := &Router{table: t, byRegion: map[string]*jiexuv1.Node{}, served: map[string]string{}}
	for _, o := range opts {
		o(r)
	}
	for _, n := range nodes {
		if err := r.checkCode(n.GetRegion()); err != nil {
			return nil, fmt.Errorf("node %q: region: %w", n.GetRegion(), err)
		}
		if _, dup := r.byRegion[n.GetRegion()]; dup {
			return nil, fmt.Errorf("%w: region %s registered twice", ErrDuplicateNode, n.GetRegion())
		}
		r.byRegion[n.GetRegion()] = n
		for _, code := range append([]string{n.GetRegion()}, n.GetServes()...) {
			if err := r.checkCode(code); err != nil {
				return nil, fmt.Errorf("node %s: serves: %w", n.GetRegion(), err)
			}
			if other, dup := r.served[code]; dup && other != n.GetRegion() {
				return nil, fmt.Errorf("%w: %s claimed by %s and %s", ErrDuplicateNode, code, other, n.GetRegion())
			}
			r.served[code] = n.GetRegion()
		}
	}
	return r, nil
}

// Resolve returns the node serving a division: the division's own node if one
// is registered, else its prefecture's, else its province's.
func (r *Router) Resolve(code string) (*jiexuv1.Node, error) {
	chain, err := r.table.Chain(code)
	if err != nil {
		if region, ok := r.served[code]; ok && r.lenient && errors.Is(err, ErrUnknownDivision) {
			return r.byRegion[region], nil
		}
		return nil, err
	}
	for _, c := range chain {
		if region, ok := r.served[c]; ok {
			return r.byRegion[region], nil
		}
	}
	return nil, fmt.Errorf("%w: %s (tried %v)", ErrUnserved, code, chain)
}

// Node returns the node registered for a region.
func (r *Router) Node(region string) (*jiexuv1.Node, error) {
	n, ok := r.byRegion[region]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownNode, region)
	}
	return n, nil
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
