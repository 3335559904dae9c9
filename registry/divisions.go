package registry

import (
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
)

//go:embed gbt2260/*.csv
var embedded embed.FS

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

// Division is one row of the table.
type Division struct {
	Code  string
	Name  string
	Level Level
	// Parent is the nearest enclosing place: a county's prefecture, or its
	// province where the prefecture row is missing (municipalities) or is a
	// grouping row; a prefecture's province; "" for a province.
	Parent string
	// Grouping marks the "…直辖县级行政区划" rows, which are not places.
	Grouping bool
}

// Table is a GB/T 2260 division table.
type Table struct {
	byCode map[string]Division
}

var (
	defaultOnce  sync.Once
	defaultTable *Table
)

// DefaultTable returns the embedded table.
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

// LoadTableDir reads province.csv, city.csv and area.csv from a folder, so
// that an operator can use a newer table than the embedded one.
func LoadTableDir(dir string) (*Table, error) {
	return LoadTable(os.DirFS(dir), ".")
}

// LoadTable reads province.csv, city.csv and area.csv under dir of fsys.
func LoadTable(fsys fs.FS, dir string) (*Table, error) {
	t := &Table{byCode: make(map[string]Division, 3300)}
	for _, f := range []struct {
		name  string
		level Level
	}{{"province.csv", LevelProvince}, {"city.csv", LevelPrefecture}, {"area.csv", LevelCounty}} {
		file, err := fsys.Open(strings.TrimPrefix(dir+"/"+f.name, "./"))
		if err != nil {
			return nil, err
		}
		err = t.read(file, f.name, f.level)
		file.Close()
		if err != nil {
			return nil, err
		}
	}
	// Parents are resolved once every row is known.
	for code, d := range t.byCode {
		d.Parent = t.parentOf(d)
		t.byCode[code] = d
	}
	return t, nil
}

func (t *Table) read(r io.Reader, name string, level Level) error {
	cr := csv.NewReader(r) // every row must have as many fields as the header
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(header) < 2 || strings.TrimPrefix(header[0], "\ufeff") != "code" || header[1] != "name" {
		return fmt.Errorf("%s: header must start with code,name; got %q", name, header)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 2 {
			return fmt.Errorf("%s:%d: want code,name", name, line)
		}
		code, dname := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if err := CheckCodeSyntax(code); err != nil {
			return fmt.Errorf("%s:%d: %w: %q", name, line, err, code)
		}
		if _, dup := t.byCode[code]; dup {
			return fmt.Errorf("%s:%d: code %s appears twice", name, line, code)
		}
		t.byCode[code] = Division{
			Code:     code,
			Name:     dname,
			Level:    level,
			Grouping: level == LevelPrefecture && strings.Contains(dname, "直辖县级行政区划"),
		}
	}
}

func (t *Table) parentOf(d Division) string {
	switch d.Level {
	case LevelProvince:
		return ""
	case LevelPrefecture:
		return d.Code[:2] + "0000"
	}
	if p, ok := t.byCode[d.Code[:4]+"00"]; ok && !p.Grouping {
		return p.Code
	}
	return d.Code[:2] + "0000"
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

// Lookup returns a division by code.
func (t *Table) Lookup(code string) (Division, error) {
	if err := CheckCodeSyntax(code); err != nil {
		return Division{}, fmt.Errorf("%w: %q", err, code)
	}
	d, ok := t.byCode[code]
	if !ok {
		return Division{}, fmt.Errorf("%w: %s", ErrUnknownDivision, code)
	}
	return d, nil
}

// CheckPlace returns nil when code is a real place in the table: a
// province, prefecture or county, and not a grouping row.
func (t *Table) CheckPlace(code string) error {
	d, err := t.Lookup(code)
	if err != nil {
		return err
	}
	if d.Grouping {
		return fmt.Errorf("%w: %s %s", ErrNotPlace, code, d.Name)
	}
	return nil
}

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.byCode) }

// Chain returns the code and its enclosing places, innermost first:
// 150781 → [150781 150700 150000]; 110105 → [110105 110000].
func (t *Table) Chain(code string) ([]string, error) {
	d, err := t.Lookup(code)
	if err != nil {
		return nil, err
	}
	var chain []string
	if !d.Grouping {
		chain = append(chain, d.Code)
	}
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

// ShortName returns a place's name without its trailing 市, as certificate
// numbers write it: 呼和浩特市 → 呼和浩特; 北京市 → 北京; 兴安盟 stays.
func (t *Table) ShortName(code string) (string, error) {
	d, err := t.Lookup(code)
	if err != nil {
		return "", err
	}
	name := d.Name
	if n := strings.TrimSuffix(name, "市"); n != "" && n != name && len([]rune(n)) >= 2 {
		return n, nil
	}
	return name, nil
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
	a, ok := provinceAbbrev[code[:2]]
	if !ok {
		return "", fmt.Errorf("%w: no province abbreviation for %s", ErrUnknownDivision, code[:2])
	}
	return a, nil
}

// ProvinceKnown reports whether the first two digits of code name a province.
// ID numbers keep the address code of their birth registration, which may
// have been abolished since; only the province is checked.
func (t *Table) ProvinceKnown(code string) bool {
	if len(code) < 2 {
		return false
	}
	_, ok := t.byCode[code[:2]+"0000"]
	return ok
}
