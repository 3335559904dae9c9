package registry

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:embed gbt2260/mca-*.txt gbt2260/history.csv
var embedded embed.FS

// HistoryFile is the name of the history file in a divisions folder; the
// table in force beside it is the one file named mca-*.txt.
const HistoryFile = "history.csv"

// Level is a division's place in the hierarchy.
type Level int

const (
	// LevelProvince is a province, autonomous region or municipality (省级).
	LevelProvince Level = iota + 1
	// LevelPrefecture is a prefecture-level division (地级).
	LevelPrefecture
	// LevelCounty is a county-level division (县级).
	LevelCounty
)

// String names the level in English: province, prefecture, county.
func (l Level) String() string {
	switch l {
	case LevelProvince:
		return "province"
	case LevelPrefecture:
		return "prefecture"
	case LevelCounty:
		return "county"
	}
	return "unknown"
}

// levelOf is the level a code's shape gives: XX0000 a province, XXYY00 a
// prefecture, anything else a county.
func levelOf(code string) Level {
	switch {
	case code[2:] == "0000":
		return LevelProvince
	case code[4:] == "00":
		return LevelPrefecture
	}
	return LevelCounty
}

// Division is a place in the table in force.
type Division struct {
	Code  string
	Name  string
	Level Level
	// Parent is the nearest enclosing place: a county's prefecture, or its
	// province where there is no prefecture (a municipality's districts, a
	// county-level city administered by its province); a prefecture's
	// province; "" for a province.
	Parent string
}

// notPlaces are rows of older tables that group places without being one:
// they must never be a region, even for a node whose table is older or newer
// than the registry's.
var notPlaces = map[string]string{
	"110100": "北京市市辖区", "110200": "北京市县", "120100": "天津市市辖区", "120200": "天津市县",
	"310100": "上海市市辖区", "310200": "上海市县", "500100": "重庆市市辖区", "500200": "重庆市县",
	"419000": "河南省省直辖县级行政区划", "429000": "湖北省省直辖县级行政区划",
	"469000": "海南省省直辖县级行政区划", "659000": "新疆维吾尔自治区直辖县级行政区划",
}

// isGroupingName reports whether a table row's name marks a grouping row.
func isGroupingName(name string) bool {
	return strings.Contains(name, "直辖县级行政区划") || name == "市辖区" || name == "县"
}

// Table is a GB/T 2260 division table: the places in force and the history
// of every code used since 1981. It is immutable once built.
type Table struct {
	version string
	digest  [sha256.Size]byte
	// current and hist are the canonical encodings of the two files, which
	// the digest covers and snapshots carry.
	current, hist []byte

	byCode  map[string]Division
	history map[string][]Period // newest period first
	// byPrefix lists the codes history knows under each 4-digit prefix.
	byPrefix map[string][]string

	certName   map[string]string // code → name on certificate numbers
	byCertName map[string]string // abbreviation + name → code
}

var (
	defaultOnce  sync.Once
	defaultTable *Table
)

// DefaultTable returns the embedded table (the Ministry's table at the end
// of 2024 and the history since 1981).
func DefaultTable() *Table {
	defaultOnce.Do(func() {
		t, err := LoadTable(embedded, "gbt2260")
		if err != nil {
			panic("registry: embedded GB/T 2260 table: " + err.Error())
		}
		defaultTable = t
	})
	return defaultTable
}

// LoadTableDir reads a divisions folder — one mca-*.txt (the table in force)
// and history.csv — so that an operator can use a newer table than the
// embedded one.
func LoadTableDir(dir string) (*Table, error) {
	return LoadTable(os.DirFS(dir), ".")
}

// LoadTable reads the one mca-*.txt and history.csv under dir of fsys. The
// table's version is the first file's name without .txt ("mca-2024").
func LoadTable(fsys fs.FS, dir string) (*Table, error) {
	matches, err := fs.Glob(fsys, path.Join(dir, "mca-*.txt"))
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%w: no mca-*.txt (the table in force) in %s", ErrBadTable, dir)
	case 1:
	default:
		return nil, fmt.Errorf("%w: more than one table in force in %s: %s; keep the newest", ErrBadTable, dir, strings.Join(matches, ", "))
	}
	name := path.Base(matches[0])
	current, err := readWith(fsys, matches[0], ParseCurrent)
	if err != nil {
		return nil, err
	}
	history, err := readWith(fsys, path.Join(dir, HistoryFile), ParseHistory)
	if err != nil {
		return nil, err
	}
	return NewTable(strings.TrimSuffix(name, ".txt"), current, history)
}

func readWith[T any](fsys fs.FS, name string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Base(name), err)
	}
	return rows, nil
}

// maxNameRunes bounds a division's name.
const maxNameRunes = 40

// checkName refuses an empty, overlong, invalid or spaced name.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrBadTable)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not UTF-8", ErrBadTable)
	case utf8.RuneCountInString(name) > maxNameRunes:
		return fmt.Errorf("%w: name longer than %d characters", ErrBadTable, maxNameRunes)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' || r == '"' }) >= 0:
		return fmt.Errorf("%w: name %q has a space, comma, quote or control character", ErrBadTable, name)
	case strings.ContainsAny(name, "0123456789"):
		return fmt.Errorf("%w: name %q has a digit", ErrBadTable, name)
	}
	return nil
}

// ParseCurrent reads a table in force: "CODE NAME" lines (mca-*.txt).
// Blank lines are skipped; the level comes from the code's shape. Grouping
// rows of older tables are returned like any row; NewTable drops them.
func ParseCurrent(r io.Reader) ([]Division, error) {
	var out []Division
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if text == "" {
			continue
		}
		code, name, ok := strings.Cut(text, " ")
		if !ok {
			code, name, ok = strings.Cut(text, "\t")
		}
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("line %d: %w: want CODE NAME, got %q", line, ErrBadTable, truncate(text))
		}
		if err := CheckCodeSyntax(code); err != nil {
			return nil, fmt.Errorf("line %d: %w: %q", line, err, truncate(code))
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, Division{Code: code, Name: name, Level: levelOf(code)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// truncate bounds what an error echoes of its input.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// NewTable builds a table from the rows in force and the history, and checks
// that they agree: the codes history says are in use are exactly the table's
// places, each at the level its code's shape gives, and every successor
// history names was in use in the year it took the area over.
func NewTable(version string, current []Division, history []Period) (*Table, error) {
	if version == "" || strings.ContainsFunc(version, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) || len(version) > 64 {
		return nil, fmt.Errorf("%w: version %q must be a short word such as mca-2024", ErrBadTable, truncate(version))
	}
	t := &Table{version: version, byCode: make(map[string]Division, len(current)), history: make(map[string][]Period, len(history))}
	for _, d := range current {
		if err := CheckCodeSyntax(d.Code); err != nil {
			return nil, fmt.Errorf("%w: %q", err, d.Code)
		}
		if _, dup := t.byCode[d.Code]; dup {
			return nil, fmt.Errorf("%w: code %s appears twice in the table in force", ErrBadTable, d.Code)
		}
		if isGroupingName(d.Name) {
			continue // not a place
		}
		t.byCode[d.Code] = Division{Code: d.Code, Name: d.Name, Level: levelOf(d.Code)}
	}
	for code, d := range t.byCode {
		switch d.Level {
		case LevelPrefecture:
			d.Parent = code[:2] + "0000"
		case LevelCounty:
			d.Parent = code[:2] + "0000"
			if _, ok := t.byCode[code[:4]+"00"]; ok {
				d.Parent = code[:4] + "00"
			}
		}
		if _, ok := t.byCode[d.Parent]; d.Parent != "" && !ok {
			return nil, fmt.Errorf("%w: %s %s has no province %s in the table in force", ErrBadTable, code, d.Name, d.Parent)
		}
		t.byCode[code] = d
	}
	if err := t.addHistory(history); err != nil {
		return nil, err
	}
	if err := t.nameCertificates(); err != nil {
		return nil, err
	}
	t.current, t.hist = t.encodeCurrent(), t.encodeHistory()
	t.digest = tableDigest(t.current, t.hist)
	return t, nil
}

// tableDigest is the SHA-256 over both canonical encodings, each prefixed
// with its length.
func tableDigest(current, hist []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, b := range [][]byte{current, hist} {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// encodeCurrent writes the places in force as mca-*.txt does, by code.
func (t *Table) encodeCurrent() []byte {
	var b bytes.Buffer
	for _, code := range t.Codes() {
		fmt.Fprintf(&b, "%s %s\n", code, t.byCode[code].Name)
	}
	return b.Bytes()
}

// Version names the table's edition, e.g. "mca-2024".
func (t *Table) Version() string { return t.version }

// Digest is the SHA-256 of the table's canonical form: two nodes with the
// same digest route every code the same way.
func (t *Table) Digest() [sha256.Size]byte { return t.digest }

// Identity is the version and the first 12 hex digits of the digest, as
// logs and status screens show a table: "mca-2024 (sha256 1f2e3d4c5b6a)".
func (t *Table) Identity() string {
	return fmt.Sprintf("%s (sha256 %x)", t.version, t.digest[:6])
}

// Codes returns the codes of the places in force, in order.
func (t *Table) Codes() []string {
	out := make([]string, 0, len(t.byCode))
	for c := range t.byCode {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// CheckCodeSyntax reports whether s is six ASCII digits.
func CheckCodeSyntax(s string) error {
	if len(s) != 6 {
		return ErrMalformedCode
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return ErrMalformedCode
		}
	}
	return nil
}

// Lookup returns a place in force by code. A code no longer in force is
// ErrNotPlace (History and Fate say what became of it); a code never used
// is ErrUnknownDivision.
func (t *Table) Lookup(code string) (Division, error) {
	if err := CheckCodeSyntax(code); err != nil {
		return Division{}, fmt.Errorf("%w: %q", err, truncate(code))
	}
	if d, ok := t.byCode[code]; ok {
		return d, nil
	}
	if name, ok := notPlaces[code]; ok {
		return Division{}, fmt.Errorf("%w: %s %s is a grouping row of older tables", ErrNotPlace, code, name)
	}
	if ps := t.history[code]; len(ps) > 0 {
		p := ps[0]
		return Division{}, fmt.Errorf("%w: %s %s was %s in %d%s", ErrNotPlace, code, p.Name, p.Status, p.Until, t.successorHint(code))
	}
	return Division{}, fmt.Errorf("%w: %s", ErrUnknownDivision, code)
}

// successorHint is " (now 330105)" for an error about a former code.
func (t *Table) successorHint(code string) string {
	f, err := t.Fate(code)
	if err != nil || len(f.Now) == 0 {
		return ""
	}
	codes := make([]string, len(f.Now))
	for i, l := range f.Now {
		codes[i] = l.Code
	}
	return " (now " + strings.Join(codes, ", ") + ")"
}

// CheckPlace returns nil when code is a place in force: a province,
// prefecture or county of the table, not a grouping row and not a code that
// history says is no longer in use. A node's region must be one.
func (t *Table) CheckPlace(code string) error {
	_, err := t.Lookup(code)
	return err
}

// CheckDivision returns nil when code names a division that exists or once
// existed: a place in force, or any code history records since 1981. Records,
// cases and certificates may name a former code; routing follows it to its
// successor.
func (t *Table) CheckDivision(code string) error {
	_, err := t.Lookup(code)
	if err != nil && errors.Is(err, ErrNotPlace) {
		if _, grouping := notPlaces[code]; !grouping {
			return nil
		}
	}
	return err
}

// InForce reports whether code is a place in force.
func (t *Table) InForce(code string) bool {
	_, ok := t.byCode[code]
	return ok
}

// Len returns the number of places in force.
func (t *Table) Len() int { return len(t.byCode) }

// Chain returns the code and its enclosing places, innermost first:
// 150781 → [150781 150700 150000]; 110105 → [110105 110000].
func (t *Table) Chain(code string) ([]string, error) {
	d, err := t.Lookup(code)
	if err != nil {
		return nil, err
	}
	chain := []string{d.Code}
	for p := d.Parent; p != ""; p = t.byCode[p].Parent {
		chain = append(chain, p)
	}
	return chain, nil
}

// FullName returns the names from province down, e.g.
// 内蒙古自治区呼伦贝尔市满洲里市 for 150781 and 北京市朝阳区 for 110105.
func (t *Table) FullName(code string) (string, error) {
	chain, err := t.Chain(code)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := len(chain) - 1; i >= 0; i-- {
		b.WriteString(t.byCode[chain[i]].Name)
	}
	return b.String(), nil
}

// provinceAbbrev is each province's one-character abbreviation (简称).
var provinceAbbrev = map[string]string{
	"11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉", "23": "黑",
	"31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣", "37": "鲁", "41": "豫",
	"42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "贵",
	"53": "云", "54": "藏", "61": "陕", "62": "甘", "63": "青", "64": "宁", "65": "新", "71": "台",
	"81": "港", "82": "澳",
}

// Abbrev returns the one-character abbreviation of the code's province (蒙 for 15xxxx).
func (t *Table) Abbrev(code string) (string, error) {
	if _, err := t.Lookup(code); err != nil {
		return "", err
	}
	return abbrevOf(code)
}

func abbrevOf(code string) (string, error) {
	a, ok := provinceAbbrev[code[:2]]
	if !ok {
		return "", fmt.Errorf("%w: no province abbreviation for %s", ErrUnknownDivision, code[:2])
	}
	return a, nil
}

// ProvinceKnown reports whether the first two digits of code name a
// province that exists or existed since 1981. ID numbers keep the address
// code of their registration, which may have been abolished since, so only
// the province is checked; no province has been abolished since 1981 (海南
// 46 was created in 1988 and 重庆 50 in 1997 — numbers issued there before
// start with 44 and 51 — so every province ever used still is one).
func (t *Table) ProvinceKnown(code string) bool {
	if len(code) < 2 {
		return false
	}
	p := code[:2] + "0000"
	return t.InForce(p) || len(t.history[p]) > 0
}
