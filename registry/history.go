package registry

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Status is what a period of a code ended in.
type Status int

const (
	// StatusInUse is a code in use today (在用).
	StatusInUse Status = iota + 1
	// StatusAbolished is a code whose division was abolished or merged (弃用).
	StatusAbolished
	// StatusChanged is a code whose division continued under another code or
	// name (变更).
	StatusChanged
)

// String names the status as lookups print it: in use, abolished, changed.
func (s Status) String() string {
	switch s {
	case StatusInUse:
		return "in use"
	case StatusAbolished:
		return "abolished"
	case StatusChanged:
		return "changed"
	}
	return "unknown"
}

// statusWords are history.csv's words for each status.
var statusWords = map[string]Status{"在用": StatusInUse, "弃用": StatusAbolished, "变更": StatusChanged}

// levelWords are history.csv's words for each level.
var levelWords = map[string]Level{"省级": LevelProvince, "地级": LevelPrefecture, "县级": LevelCounty}

// Successor is a code that took over (part of) a division's area, and the
// year it did.
type Successor struct {
	Code string
	Year int
}

// Period is one row of history.csv: a code, the division it named from one
// year until another, and where its area went.
type Period struct {
	Code  string
	Name  string
	Level Level
	// Province is the province's name at the time (一级行政区).
	Province string
	// Prefecture is the prefecture's name at the time (二级行政区): the
	// division's own name for a prefecture, "" for a province and for a
	// county directly under its province (直辖).
	Prefecture string
	// From is the first year in use; Until the first year no longer in use,
	// 0 while in use.
	From, Until int
	Status      Status
	// Successors are the codes the area went to. Those whose Year is Until
	// took it over when the code ended; earlier ones took parts while the
	// code was in use (for a code in use, every one).
	Successors []Successor
}

// Place is where the division lay, as history names it: "浙江省杭州市"
// for a county of 杭州, "河南省周口地区" for one of 周口地区 then, "浙江省"
// for a prefecture, "" for a province.
func (p Period) Place() string {
	switch p.Level {
	case LevelProvince:
		return ""
	case LevelPrefecture:
		return p.Province
	}
	return p.Province + p.Prefecture
}

// Next returns the successors that took the area over when the period ended.
func (p Period) Next() []Successor {
	if p.Status == StatusInUse {
		return nil
	}
	var out []Successor
	for _, s := range p.Successors {
		if s.Year == p.Until {
			out = append(out, s)
		}
	}
	return out
}

// Earlier returns the successors that took part of the area before the
// period ended (all of them while it is in use).
func (p Period) Earlier() []Successor {
	var out []Successor
	for _, s := range p.Successors {
		if p.Status == StatusInUse || s.Year < p.Until {
			out = append(out, s)
		}
	}
	return out
}

// alive reports whether the period was in use during year.
func (p Period) alive(year int) bool {
	return p.From <= year && (p.Until == 0 || year < p.Until)
}

// historyHeader is history.csv's header.
var historyHeader = []string{"代码", "一级行政区", "二级行政区", "名称", "级别", "状态", "启用时间", "变更/弃用时间", "新代码"}

// Bounds on history.csv's fields.
const (
	firstYear     = 1949
	lastYear      = 2999
	maxSuccessors = 64
)

// ParseHistory reads history.csv: a header, then one row per period of a
// code. It checks every field on its own; NewTable checks the rows against
// each other and the table in force.
func ParseHistory(r io.Reader) ([]Period, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(historyHeader)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	if !slices.Equal(header, historyHeader) {
		return nil, fmt.Errorf("%w: header must be %s", ErrBadTable, strings.Join(historyHeader, ","))
	}
	var out []Period
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		p, err := parsePeriod(rec)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, p)
	}
}

func parseYear(field, s string) (int, error) {
	y, err := strconv.Atoi(s)
	if err != nil || len(s) != 4 || y < firstYear || y > lastYear {
		return 0, fmt.Errorf("%w: %s %q is not a year %d..%d", ErrBadTable, field, truncate(s), firstYear, lastYear)
	}
	return y, nil
}

func parsePeriod(rec []string) (Period, error) {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	p := Period{Code: rec[0], Name: rec[3], Province: rec[1], Prefecture: rec[2]}
	if err := CheckCodeSyntax(p.Code); err != nil {
		return p, fmt.Errorf("代码: %w: %q", err, truncate(p.Code))
	}
	if err := checkName(p.Name); err != nil {
		return p, fmt.Errorf("名称: %w", err)
	}
	if err := checkName(p.Province); err != nil {
		return p, fmt.Errorf("一级行政区: %w", err)
	}
	var ok bool
	if p.Level, ok = levelWords[rec[4]]; !ok {
		return p, fmt.Errorf("%w: 级别 %q must be 省级, 地级 or 县级", ErrBadTable, truncate(rec[4]))
	}
	if p.Level != levelOf(p.Code) {
		return p, fmt.Errorf("%w: %s is %s but its code has the shape of a %s", ErrBadTable, p.Code, rec[4], levelOf(p.Code))
	}
	switch {
	case p.Level == LevelProvince && p.Prefecture != "":
		return p, fmt.Errorf("%w: 二级行政区 must be empty for a province", ErrBadTable)
	case p.Level == LevelCounty && p.Prefecture == "直辖":
		p.Prefecture = ""
	case p.Level != LevelProvince:
		if err := checkName(p.Prefecture); err != nil {
			return p, fmt.Errorf("二级行政区: %w", err)
		}
	}
	if p.Status, ok = statusWords[rec[5]]; !ok {
		return p, fmt.Errorf("%w: 状态 %q must be 在用, 弃用 or 变更", ErrBadTable, truncate(rec[5]))
	}
	var err error
	if p.From, err = parseYear("启用时间", rec[6]); err != nil {
		return p, err
	}
	switch {
	case p.Status == StatusInUse && rec[7] != "":
		return p, fmt.Errorf("%w: a code in use (在用) has no 变更/弃用时间", ErrBadTable)
	case p.Status != StatusInUse:
		if p.Until, err = parseYear("变更/弃用时间", rec[7]); err != nil {
			return p, err
		}
		if p.Until <= p.From {
			return p, fmt.Errorf("%w: 变更/弃用时间 %d is not after 启用时间 %d", ErrBadTable, p.Until, p.From)
		}
	}
	if rec[8] == "" {
		return p, nil
	}
	entries := strings.Split(rec[8], ";")
	if len(entries) > maxSuccessors {
		return p, fmt.Errorf("%w: 新代码 lists more than %d codes", ErrBadTable, maxSuccessors)
	}
	for _, e := range entries {
		s, err := parseSuccessor(strings.TrimSpace(e), p)
		if err != nil {
			return p, err
		}
		p.Successors = append(p.Successors, s)
	}
	return p, nil
}

// parseSuccessor reads CODE or CODE[YEAR] of 新代码.
func parseSuccessor(e string, p Period) (Successor, error) {
	code, rest, bracket := strings.Cut(e, "[")
	s := Successor{Code: code, Year: p.Until}
	if err := CheckCodeSyntax(code); err != nil {
		return s, fmt.Errorf("新代码: %w: %q", err, truncate(e))
	}
	if bracket {
		y, ok := strings.CutSuffix(rest, "]")
		if !ok {
			return s, fmt.Errorf("%w: 新代码 %q: want CODE or CODE[YEAR]", ErrBadTable, truncate(e))
		}
		var err error
		if s.Year, err = parseYear("新代码 year", y); err != nil {
			return s, err
		}
	}
	switch {
	case s.Year == 0:
		return s, fmt.Errorf("%w: 新代码 %s of a code in use needs the year it took part of the area: %s[YEAR]", ErrBadTable, code, code)
	case s.Year < p.From || (p.Until != 0 && s.Year > p.Until):
		return s, fmt.Errorf("%w: 新代码 %q: the year is outside %d..%s", ErrBadTable, truncate(e), p.From, untilWord(p.Until))
	}
	return s, nil
}

func untilWord(y int) string {
	if y == 0 {
		return "now"
	}
	return strconv.Itoa(y)
}

// addHistory indexes the periods and checks them against each other and the
// table in force.
func (t *Table) addHistory(history []Period) error {
	t.byPrefix = map[string][]string{}
	for _, p := range history {
		if len(t.history[p.Code]) == 0 {
			t.byPrefix[p.Code[:4]] = append(t.byPrefix[p.Code[:4]], p.Code)
		}
		t.history[p.Code] = append(t.history[p.Code], p)
	}
	var inUse []string
	for code, ps := range t.history {
		slices.SortFunc(ps, func(a, b Period) int { return b.From - a.From })
		for i, p := range ps {
			if i > 0 && p.Until > ps[i-1].From || (i > 0 && p.Status == StatusInUse) {
				return fmt.Errorf("%w: history.csv: the periods of %s overlap (%d..%s and %d..%s)",
					ErrBadTable, code, p.From, untilWord(p.Until), ps[i-1].From, untilWord(ps[i-1].Until))
			}
		}
		if ps[0].Status == StatusInUse {
			inUse = append(inUse, code)
		}
	}
	// The two files must be of one edition.
	var missing, extra []string
	for _, code := range inUse {
		if !t.InForce(code) {
			if _, grouping := notPlaces[code]; !grouping {
				missing = append(missing, code)
			}
		}
	}
	for code := range t.byCode {
		if ps := t.history[code]; len(ps) == 0 || ps[0].Status != StatusInUse {
			extra = append(extra, code)
		} else if ps[0].Level != t.byCode[code].Level {
			return fmt.Errorf("%w: %s is a %s in history.csv and a %s in the table in force", ErrBadTable, code, ps[0].Level, t.byCode[code].Level)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		return fmt.Errorf("%w: history.csv and the table in force are not of one edition: in use in history but not in the table: %s; in the table but not in use in history: %s",
			ErrBadTable, listSome(missing), listSome(extra))
	}
	for _, ps := range t.history {
		for _, p := range ps {
			for _, s := range p.Successors {
				if _, ok := t.periodAt(s.Code, s.Year); !ok {
					return fmt.Errorf("%w: history.csv: %s names successor %s in %d, but %s was not in use that year",
						ErrBadTable, p.Code, s.Code, s.Year, s.Code)
				}
			}
		}
	}
	return nil
}

func listSome(codes []string) string {
	switch {
	case len(codes) == 0:
		return "none"
	case len(codes) > 8:
		return strings.Join(codes[:8], ", ") + fmt.Sprintf(" and %d more", len(codes)-8)
	}
	return strings.Join(codes, ", ")
}

// periodAt returns the period of code in use during year.
func (t *Table) periodAt(code string, year int) (Period, bool) {
	for _, p := range t.history[code] {
		if p.alive(year) {
			return p, true
		}
	}
	return Period{}, false
}

// History returns every period of a code, newest first. A code in force
// always has one (its last); a code never used is ErrUnknownDivision.
func (t *Table) History(code string) ([]Period, error) {
	if err := CheckCodeSyntax(code); err != nil {
		return nil, fmt.Errorf("%w: %q", err, truncate(code))
	}
	ps := t.history[code]
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownDivision, code)
	}
	return slices.Clone(ps), nil
}

// Step is one change on the way from a former code to a code in force.
type Step struct {
	From   string
	Status Status
	Year   int
	To     string
	// Inferred is set when history names no successor for From (an
	// abolished prefecture) and To was inferred from where its counties went.
	Inferred bool
}

// Lineage is a code in force that covers (part of) a former code's area,
// and the changes that led there.
type Lineage struct {
	Code  string
	Steps []Step
}

// Fate is what became of a code.
type Fate struct {
	// Period is the code's last period.
	Period Period
	// Now are the codes in force that cover the area today, by code: the
	// code itself while it is in force.
	Now []Lineage
	// Inferred is set when some of Now were inferred (see Step.Inferred).
	Inferred bool
}

// maxSteps bounds a lineage; years strictly increase along one, so it is
// never reached by a consistent history.
const maxSteps = 64

// Fate follows a code's successors to the codes in force now. A code in
// force is its own fate. A code whose area went to several codes has
// several lineages; an abolished prefecture that lists none gets the
// prefectures (or province-administered cities, or municipality) its
// counties went to, marked Inferred.
func (t *Table) Fate(code string) (Fate, error) {
	ps, err := t.History(code)
	if err != nil {
		return Fate{}, err
	}
	return t.fate(ps[0], map[string]bool{})
}

// fate walks from period p; inferring holds the prefectures being inferred
// further up, so that an inference never recurses into itself.
func (t *Table) fate(p Period, inferring map[string]bool) (Fate, error) {
	f := Fate{Period: p}
	seen := map[string]bool{}
	add := func(code string, steps []Step) {
		if !seen[code] {
			seen[code] = true
			f.Now = append(f.Now, Lineage{Code: code, Steps: steps})
		}
	}
	var walk func(p Period, steps []Step) error
	walk = func(p Period, steps []Step) error {
		if len(steps) > maxSteps {
			return fmt.Errorf("%w: the successors of %s do not end", ErrBadTable, f.Period.Code)
		}
		if p.Status == StatusInUse {
			add(p.Code, steps)
			return nil
		}
		next := p.Next()
		if len(next) == 0 {
			if q, ok := t.periodAt(p.Code, p.Until); ok { // renamed, same code
				return walk(q, append(slices.Clip(steps), Step{From: p.Code, Status: p.Status, Year: p.Until, To: p.Code}))
			}
			if p.Level != LevelPrefecture || inferring[p.Code] {
				return nil
			}
			inferring[p.Code] = true
			units := t.inferPrefecture(p, inferring)
			delete(inferring, p.Code)
			for _, u := range units {
				f.Inferred = true
				add(u, append(slices.Clip(steps), Step{From: p.Code, Status: p.Status, Year: p.Until, To: u, Inferred: true}))
			}
			return nil
		}
		for _, s := range next {
			q, ok := t.periodAt(s.Code, s.Year)
			if !ok {
				continue // addHistory refuses such a table
			}
			if err := walk(q, append(slices.Clip(steps), Step{From: p.Code, Status: p.Status, Year: p.Until, To: s.Code})); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(p, nil); err != nil {
		return Fate{}, err
	}
	slices.SortFunc(f.Now, func(a, b Lineage) int { return strings.Compare(a.Code, b.Code) })
	return f, nil
}

// inferPrefecture finds where an abolished prefecture that names no
// successor went: the pooling-level places in force now (see poolingUnit)
// of the counties that were in it in its last year.
func (t *Table) inferPrefecture(p Period, inferring map[string]bool) []string {
	units := map[string]bool{}
	for _, code := range t.byPrefix[p.Code[:4]] {
		q, ok := t.periodAt(code, p.Until-1)
		if !ok || q.Level != LevelCounty {
			continue
		}
		f, err := t.fate(q, inferring)
		if err != nil {
			continue
		}
		for _, l := range f.Now {
			units[t.poolingUnit(l.Code)] = true
		}
	}
	out := make([]string, 0, len(units))
	for c := range units {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// municipalities pool at province level.
var municipalities = map[string]bool{"11": true, "12": true, "31": true, "50": true}

// poolingUnit is the prefecture-level place a place in force belongs to:
// itself for a province or prefecture, a county's prefecture, the
// municipality for its districts, and a county-level city administered by
// its province for itself.
func (t *Table) poolingUnit(code string) string {
	d := t.byCode[code]
	switch {
	case d.Level != LevelCounty:
		return code
	case t.byCode[d.Parent].Level == LevelPrefecture:
		return d.Parent
	case municipalities[code[:2]]:
		return d.Parent
	}
	return code
}

// NameAt returns the name a code had in a year, or its last name when it
// was not in use then.
func (t *Table) NameAt(code string, year int) string {
	if p, ok := t.periodAt(code, year); ok {
		return p.Name
	}
	if d, ok := t.byCode[code]; ok {
		return d.Name
	}
	if ps := t.history[code]; len(ps) > 0 {
		return ps[0].Name
	}
	return ""
}

// encodeHistory writes the periods as history.csv does, by code and start.
func (t *Table) encodeHistory() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(historyHeader)
	codes := make([]string, 0, len(t.history))
	for c := range t.history {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, code := range codes {
		ps := t.history[code]
		for i := len(ps) - 1; i >= 0; i-- {
			w.Write(encodePeriod(ps[i]))
		}
	}
	w.Flush()
	return b.Bytes()
}

func encodePeriod(p Period) []string {
	level := map[Level]string{LevelProvince: "省级", LevelPrefecture: "地级", LevelCounty: "县级"}[p.Level]
	status := map[Status]string{StatusInUse: "在用", StatusAbolished: "弃用", StatusChanged: "变更"}[p.Status]
	pref := p.Prefecture
	if p.Level == LevelCounty && pref == "" {
		pref = "直辖"
	}
	until := ""
	if p.Until != 0 {
		until = strconv.Itoa(p.Until)
	}
	var next []string
	for _, s := range p.Successors {
		if s.Year == p.Until {
			next = append(next, s.Code)
		} else {
			next = append(next, fmt.Sprintf("%s[%d]", s.Code, s.Year))
		}
	}
	return []string{p.Code, p.Province, pref, p.Name, level, status, strconv.Itoa(p.From), until, strings.Join(next, ";")}
}
