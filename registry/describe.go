package registry

import (
	"errors"
	"fmt"
	"io"
	"strings"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Describe writes what a division code is or was and where its area lies
// now, for 'jiexu registry divisions':
//
//	330103 下城区 (浙江省杭州市), abolished 2021 → 330105 拱墅区
//	412723 商水县 (河南省周口地区), abolished 2000 → 411623 商水县
//	  in 1984 part of its area went to 412701 周口市
//	330113 临平区 (浙江省杭州市), in force since 2021; certificate numbers 浙临平…
func Describe(w io.Writer, t *Table, code string) error {
	ps, err := t.History(code)
	if err != nil {
		if _, lerr := t.Lookup(code); lerr != nil {
			return lerr // a grouping row or an unknown code says which
		}
		return err
	}
	p := ps[0]
	fmt.Fprintf(w, "%s %s%s, %s\n", code, p.Name, inParens(p.Place()), t.fateLine(p))
	f, err := t.Fate(code)
	if err != nil {
		return err
	}
	if p.Status != StatusInUse && !sameCodes(p.Next(), f.Now) && !f.Inferred {
		var now []string
		for _, l := range f.Now {
			full, _ := t.FullName(l.Code)
			now = append(now, l.Code+" "+full)
		}
		fmt.Fprintf(w, "  now: %s\n", strings.Join(now, ", "))
	}
	for _, line := range t.earlierLines(p) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	for _, q := range ps[1:] {
		fmt.Fprintf(w, "  before, %d–%d: %s%s, %s\n", q.From, q.Until, q.Name, inParens(q.Place()), t.fateLine(q))
		for _, line := range t.earlierLines(q) {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	return nil
}

func inParens(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// fateLine is "in force since 2021; certificate numbers 浙临平…" or
// "abolished 2021 → 330105 拱墅区".
func (t *Table) fateLine(p Period) string {
	if p.Status == StatusInUse {
		s := fmt.Sprintf("in force since %d", p.From)
		if a, err := t.Abbrev(p.Code); err == nil {
			s += "; certificate numbers " + a + t.certName[p.Code] + "…"
		}
		return s
	}
	next := p.Next()
	if len(next) == 0 {
		if q, ok := t.periodAt(p.Code, p.Until); ok {
			return fmt.Sprintf("%s %d → %s %s (the same code)", p.Status, p.Until, p.Code, q.Name)
		}
		f, err := t.fate(p, map[string]bool{})
		if err != nil || len(f.Now) == 0 {
			return fmt.Sprintf("%s %d; history names no successor", p.Status, p.Until)
		}
		return fmt.Sprintf("%s %d → %s (inferred from where its counties went)", p.Status, p.Until, t.namedCodes(f.Now))
	}
	var names []string
	for _, s := range next {
		names = append(names, s.Code+" "+t.NameAt(s.Code, s.Year))
	}
	return fmt.Sprintf("%s %d → %s", p.Status, p.Until, strings.Join(names, ", "))
}

func (t *Table) namedCodes(ls []Lineage) string {
	var names []string
	for _, l := range ls {
		names = append(names, l.Code+" "+t.NameAt(l.Code, 9999))
	}
	return strings.Join(names, ", ")
}

// earlierLines say which parts of a period's area went elsewhere while it
// was in use: "in 1984 part of its area went to 412701 周口市".
func (t *Table) earlierLines(p Period) []string {
	byYear := map[int][]string{}
	var years []int
	for _, s := range p.Earlier() {
		if _, ok := byYear[s.Year]; !ok {
			years = append(years, s.Year)
		}
		byYear[s.Year] = append(byYear[s.Year], s.Code+" "+t.NameAt(s.Code, s.Year))
	}
	var out []string
	for _, y := range years {
		out = append(out, fmt.Sprintf("in %d part of its area went to %s", y, strings.Join(byYear[y], ", ")))
	}
	return out
}

func sameCodes(next []Successor, now []Lineage) bool {
	if len(next) != len(now) {
		return false
	}
	have := map[string]bool{}
	for _, s := range next {
		have[s.Code] = true
	}
	for _, l := range now {
		if !have[l.Code] {
			return false
		}
	}
	return true
}

// DescribeAll describes each code in turn, writing why for a code that is
// none, and then returns an error that counts those (wrapping the first).
// An argument of 18 characters is an ID number: it says where the number
// was issued, and writes the number masked.
func DescribeAll(w io.Writer, t *Table, codes []string) error {
	var first error
	bad := 0
	for _, code := range codes {
		if len(code) == 18 { // an ID number: where it was issued
			if err := describeIssue(w, t, code); err != nil {
				fmt.Fprintf(w, "%s: %v\n", maskID(code), err)
				if first == nil {
					first = err
				}
				bad++
			}
			continue
		}
		if err := Describe(w, t, code); err != nil {
			fmt.Fprintf(w, "%s: %v\n", code, err)
			if first == nil {
				first = err
			}
			bad++
		}
	}
	if first != nil {
		return fmt.Errorf("%d of %d codes could not be described (see above): %w", bad, len(codes), first)
	}
	return nil
}

// WriteRoute writes what a code is and how a snapshot routes it, for
// 'jiexu registry resolve':
//
//	330103 下城区 (浙江省杭州市), abolished 2021 → 330105 拱墅区
//	route: 330103 (abolished 2021) → 330105 → node 330100 杭州市医疗保障局 at 10.1.2.3:7443 (tried 330105 → 330100)
//
// It routes by the table the snapshot carries, or by t for a snapshot that
// carries none.
func WriteRoute(w io.Writer, t *Table, snap *jiexuv1.Snapshot, code string) error {
	if p := snap.GetDivisions(); p != nil && !t.SameTable(p) {
		var err error
		if t, err = TableFromProto(p); err != nil {
			return err
		}
	}
	r, err := SnapshotRouter(t, snap)
	if err != nil {
		return err
	}
	if err := Describe(w, t, code); err != nil && !errors.Is(err, ErrUnknownDivision) {
		return err
	}
	rt, err := r.Route(code)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "route: %s %s at %s (tried %s)\n", rt, rt.Node.GetAgencyName(), rt.Node.GetAddress(), strings.Join(rt.Chain, " → "))
	return nil
}

// describeIssue writes where an ID number was issued. Only the address code
// and the birth year are read, and the number is written masked.
func describeIssue(w io.Writer, t *Table, id string) error {
	o, err := t.IssuedAt(id)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s issued at %s\n", maskID(id), o)
	return err
}

// maskID hides the birth date of an 18-character ID number, as the node's
// logs do (rules.MaskID, which this package does not import).
func maskID(id string) string { return id[:6] + "********" + id[14:] }
