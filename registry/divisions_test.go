package registry

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestTableQuirks(t *testing.T) {
	tab := DefaultTable()
	tests := []struct {
		name, code string
		wantName   string
		wantLevel  Level
		wantParent string
		wantFull   string
	}{
		{"county under prefecture", "150781", "满洲里市", LevelCounty, "150700", "内蒙古自治区呼伦贝尔市满洲里市"},
		{"prefecture", "150700", "呼伦贝尔市", LevelPrefecture, "150000", "内蒙古自治区呼伦贝尔市"},
		{"province", "150000", "内蒙古自治区", LevelProvince, "", "内蒙古自治区"},
		{"municipality district", "110105", "朝阳区", LevelCounty, "110000", "北京市朝阳区"},
		{"chongqing county of the former 500200 rows", "500229", "城口县", LevelCounty, "500000", "重庆市城口县"},
		{"prefecture without counties", "441900", "东莞市", LevelPrefecture, "440000", "广东省东莞市"},
		{"province-administered county city 湖北", "429004", "仙桃市", LevelCounty, "420000", "湖北省仙桃市"},
		{"province-administered county city 河南", "419001", "济源市", LevelCounty, "410000", "河南省济源市"},
		{"province-administered county city 海南", "469001", "五指山市", LevelCounty, "460000", "海南省五指山市"},
		{"xinjiang corps city", "659001", "石河子市", LevelCounty, "650000", "新疆维吾尔自治区石河子市"},
		{"created 2021", "330113", "临平区", LevelCounty, "330100", "浙江省杭州市临平区"},
		{"created 2021, xinjiang", "659012", "白杨市", LevelCounty, "650000", "新疆维吾尔自治区白杨市"},
		{"repeated name 南京", "320106", "鼓楼区", LevelCounty, "320100", "江苏省南京市鼓楼区"},
		{"repeated name 徐州", "320302", "鼓楼区", LevelCounty, "320300", "江苏省徐州市鼓楼区"},
		{"hong kong", "810000", "香港特别行政区", LevelProvince, "", "香港特别行政区"},
		{"taiwan", "710000", "台湾省", LevelProvince, "", "台湾省"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tab.Lookup(tt.code)
			if err != nil {
				t.Fatalf("Lookup(%s): %v", tt.code, err)
			}
			if d.Name != tt.wantName || d.Level != tt.wantLevel || d.Parent != tt.wantParent {
				t.Errorf("Lookup(%s) = %+v, want name %s level %v parent %q", tt.code, d, tt.wantName, tt.wantLevel, tt.wantParent)
			}
			full, err := tab.FullName(tt.code)
			if err != nil || full != tt.wantFull {
				t.Errorf("FullName(%s) = %q, %v; want %q", tt.code, full, err, tt.wantFull)
			}
		})
	}
}

// TestNoChildren checks SOURCE.md's prefectures without counties and the
// regions that are province-level only.
func TestNoChildren(t *testing.T) {
	tab := DefaultTable()
	children := map[string]int{}
	for _, code := range tab.Codes() {
		d, _ := tab.Lookup(code)
		children[d.Parent]++
	}
	for _, code := range []string{"441900", "442000", "620200", "460400", "710000", "810000", "820000"} {
		if n := children[code]; n != 0 {
			t.Errorf("%s has %d children, want none", code, n)
		}
	}
	for _, code := range []string{"110000", "120000", "310000", "500000"} {
		for _, c := range tab.Codes() {
			if d, _ := tab.Lookup(c); c[:2] == code[:2] && d.Level == LevelPrefecture {
				t.Errorf("municipality %s has a prefecture row %s %s", code, c, d.Name)
			}
		}
	}
}

func TestNotPlaces(t *testing.T) {
	tab := DefaultTable()
	for _, tt := range []struct {
		code string
		want error
	}{
		{"", ErrMalformedCode},
		{"15078", ErrMalformedCode},
		{"1507811", ErrMalformedCode},
		{"15078a", ErrMalformedCode},
		{"１５０７８１", ErrMalformedCode},
		{"159999", ErrUnknownDivision},
		{"000000", ErrUnknownDivision},
		{"429000", ErrNotPlace}, // grouping rows of older tables
		{"469000", ErrNotPlace},
		{"500100", ErrNotPlace},
		{"500200", ErrNotPlace},
		{"110100", ErrNotPlace},
		{"330103", ErrNotPlace}, // abolished 2021
		{"450127", ErrNotPlace}, // 横县, now 450181 横州市
	} {
		if err := tab.CheckPlace(tt.code); !errors.Is(err, tt.want) {
			t.Errorf("CheckPlace(%q) = %v, want %v", tt.code, err, tt.want)
		}
	}
	for code, want := range map[string]error{"330103": nil, "412723": nil, "330113": nil, "429000": ErrNotPlace, "500100": ErrNotPlace, "159999": ErrUnknownDivision} {
		if err := tab.CheckDivision(code); !errors.Is(err, want) {
			t.Errorf("CheckDivision(%s) = %v, want %v", code, err, want)
		}
	}
	if err := tab.CheckPlace("330103"); err == nil || !strings.Contains(err.Error(), "330105") {
		t.Errorf("CheckPlace(330103) = %v, want it to name the successor 330105", err)
	}
}

// mcaCodes reads the codes of the embedded mca-2024.txt directly.
func mcaCodes(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("gbt2260", "mca-2024.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var codes []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		codes = append(codes, strings.Fields(sc.Text())[0])
	}
	return codes
}

func TestEveryCodeInForceResolves(t *testing.T) {
	tab := DefaultTable()
	codes := mcaCodes(t)
	if len(codes) != 3213 || tab.Len() != len(codes) {
		t.Fatalf("mca-2024.txt has %d codes, the table %d; want 3213 each", len(codes), tab.Len())
	}
	r, err := NewRouter(tab, provinceNodes(tab))
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range codes {
		chain, err := tab.Chain(code)
		if err != nil || chain[0] != code || !strings.HasSuffix(chain[len(chain)-1], "0000") {
			t.Errorf("Chain(%s) = %v, %v", code, chain, err)
			continue
		}
		f, err := tab.Fate(code)
		if err != nil || len(f.Now) != 1 || f.Now[0].Code != code || f.Period.Status != StatusInUse {
			t.Errorf("Fate(%s) = %+v, %v; want itself in use", code, f, err)
		}
		rt, err := r.Route(code)
		if err != nil || rt.Node.GetRegion() != code[:2]+"0000" || rt.Target != code {
			t.Errorf("Route(%s) = %v, %v; want its province", code, rt, err)
		}
	}
}

// provinceNodes registers a node for every province.
func provinceNodes(tab *Table) []*jiexuv1.Node {
	var regions []string
	for _, c := range tab.Codes() {
		if strings.HasSuffix(c, "0000") {
			regions = append(regions, c)
		}
	}
	return nodes(regions...)
}

func TestEveryFormerCodeResolves(t *testing.T) {
	tab := DefaultTable()
	r, err := NewRouter(tab, provinceNodes(tab))
	if err != nil {
		t.Fatal(err)
	}
	var former, periods, inferred int
	for code, ps := range tab.history {
		for i, p := range ps {
			if p.Status == StatusInUse {
				continue
			}
			periods++
			f, err := tab.fate(p, map[string]bool{})
			if err != nil || len(f.Now) == 0 {
				t.Errorf("fate(%s %s %d–%d) = %+v, %v; want successors in force", code, p.Name, p.From, p.Until, f.Now, err)
				continue
			}
			if f.Inferred {
				inferred++
			}
			for _, l := range f.Now {
				if !tab.InForce(l.Code) {
					t.Errorf("%s → %s, which is not in force", code, l.Code)
				}
				if len(l.Steps) == 0 || l.Steps[0].From != code || l.Steps[0].Year != p.Until {
					t.Errorf("%s → %s: steps %+v do not start at %s in %d", code, l.Code, l.Steps, code, p.Until)
				}
			}
			if i != 0 || tab.InForce(code) {
				continue
			}
			former++
			rt, err := r.Route(code)
			if err != nil {
				if !errors.Is(err, ErrSplitDivision) {
					t.Errorf("Route(%s) = %v", code, err)
				}
				continue
			}
			if len(rt.Steps) == 0 || rt.Steps[0].Year != p.Until || !strings.Contains(rt.String(), "→ node ") {
				t.Errorf("Route(%s) = %s, want the change of %d", code, rt, p.Until)
			}
		}
	}
	t.Logf("%d periods no longer in use resolve, %d of them by inference from their counties; %d former codes route", periods, inferred, former)
	if former < 3000 {
		t.Errorf("only %d former codes, want the ~3,300 of history.csv", former)
	}
}

func TestFate(t *testing.T) {
	tab := DefaultTable()
	tests := []struct {
		code         string
		wantStatus   Status
		wantUntil    int
		wantNow      []string
		wantInferred bool
	}{
		{"330103", StatusAbolished, 2021, []string{"330105"}, false},           // 下城区 → 拱墅区
		{"412723", StatusAbolished, 2000, []string{"411623"}, false},           // 商水县, not its 1984 part
		{"450127", StatusAbolished, 2021, []string{"450181"}, false},           // 横县 → 横州市
		{"130421", StatusAbolished, 2016, []string{"130402", "130403"}, false}, // 邯郸县 split
		{"110221", StatusAbolished, 1999, []string{"110114"}, false},           // 昌平县 → 昌平区
		{"330185", StatusAbolished, 2017, []string{"330112"}, false},           // 临安市 → 临安区
		{"132100", StatusAbolished, 1993, []string{"130400"}, true},            // 邯郸地区: no successor listed
		{"120110", StatusInUse, 0, []string{"120110"}, false},                  // renamed in place in 1992
		{"330113", StatusInUse, 0, []string{"330113"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			f, err := tab.Fate(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			var now []string
			for _, l := range f.Now {
				now = append(now, l.Code)
			}
			if f.Period.Status != tt.wantStatus || f.Period.Until != tt.wantUntil || !slices.Equal(now, tt.wantNow) || f.Inferred != tt.wantInferred {
				t.Errorf("Fate(%s) = %s %d → %v inferred %v; want %s %d → %v inferred %v",
					tt.code, f.Period.Status, f.Period.Until, now, f.Inferred, tt.wantStatus, tt.wantUntil, tt.wantNow, tt.wantInferred)
			}
		})
	}
	if _, err := tab.Fate("159999"); !errors.Is(err, ErrUnknownDivision) {
		t.Errorf("Fate(159999) = %v, want ErrUnknownDivision", err)
	}
}

func TestDescribe(t *testing.T) {
	tab := DefaultTable()
	for code, want := range map[string]string{
		"330103": "330103 下城区 (浙江省杭州市), abolished 2021 → 330105 拱墅区\n",
		"412723": "412723 商水县 (河南省周口地区), abolished 2000 → 411623 商水县\n  in 1984 part of its area went to 412701 周口市\n",
		"330113": "330113 临平区 (浙江省杭州市), in force since 2021; certificate numbers 浙临平…\n",
		"132100": "132100 邯郸地区 (河北省), abolished 1993 → 130400 邯郸市 (inferred from where its counties went)\n",
		"120110": "120110 东丽区 (天津市), in force since 1992; certificate numbers 津东丽…\n  before, 1981–1992: 东郊区 (天津市), changed 1992 → 120110 东丽区\n",
	} {
		var b bytes.Buffer
		if err := Describe(&b, tab, code); err != nil || b.String() != want {
			t.Errorf("Describe(%s) = %q, %v\nwant %q", code, b.String(), err, want)
		}
	}
	for code, want := range map[string]error{"429000": ErrNotPlace, "159999": ErrUnknownDivision, "x": ErrMalformedCode} {
		if err := Describe(&bytes.Buffer{}, tab, code); !errors.Is(err, want) {
			t.Errorf("Describe(%s) = %v, want %v", code, err, want)
		}
	}
}

func TestIssuedAt(t *testing.T) {
	tab := DefaultTable()
	for _, tt := range []struct{ id, want string }{
		{"412723197001011234", "412723 河南省周口地区商水县 (abolished 2000; now 411623 河南省周口市商水县)"},
		{"150102198503121234", "150102 内蒙古自治区呼和浩特市新城区"},
		{"460100199001011234", "460100 海南省海口市"},
		{"810000199001011234", "810000 香港特别行政区居民 (港澳居民居住证)"},
		{"830000199001011234", "830000 台湾居民 (台湾居民居住证; 830000 is not a division code)"},
		{"159901199001011234", "159901 内蒙古自治区 (a county code GB/T 2260 does not list since 1981)"},
		// 130107 was 井陉矿区 1983–1989 and again from 1992: a person born in 1985 was registered under the first.
		{"130107198501011234", "130107 河北省石家庄市井陉矿区 (changed 1989; now 130121 河北省石家庄市井陉县)"},
		{"130107199501011234", "130107 河北省石家庄市井陉矿区"},
	} {
		o, err := tab.IssuedAt(tt.id)
		if err != nil || o.String() != tt.want {
			t.Errorf("IssuedAt(%s) = %q, %v; want %q", tt.id[:6], o, err, tt.want)
		}
	}
	if _, err := tab.IssuedAt("990000199001011234"); !errors.Is(err, ErrUnknownDivision) {
		t.Errorf("IssuedAt(99…) = %v, want ErrUnknownDivision", err)
	}
}

func TestProvinceKnown(t *testing.T) {
	tab := DefaultTable()
	for code, want := range map[string]bool{"460100": true, "500101": true, "440000": true, "159901": true, "990101": false, "830000": false, "1": false} {
		if got := tab.ProvinceKnown(code); got != want {
			t.Errorf("ProvinceKnown(%s) = %v, want %v", code, got, want)
		}
	}
}

func TestLoadTableDir(t *testing.T) {
	tab, err := LoadTableDir("gbt2260")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Len() != DefaultTable().Len() || tab.Digest() != DefaultTable().Digest() || tab.Version() != "mca-2024" {
		t.Errorf("LoadTableDir = %d rows %s, want %d rows %s", tab.Len(), tab.Identity(), DefaultTable().Len(), DefaultTable().Identity())
	}
	mca, _ := os.ReadFile(filepath.Join("gbt2260", "mca-2024.txt"))
	hist, _ := os.ReadFile(filepath.Join("gbt2260", "history.csv"))
	withoutLine := func(b []byte, line string) []byte { return bytes.Replace(b, []byte(line+"\n"), nil, 1) }
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"empty folder", fstest.MapFS{}, "no mca-*.txt"},
		{"no history", fstest.MapFS{"mca-2024.txt": {Data: mca}}, "history.csv"},
		{"two tables", fstest.MapFS{"mca-2024.txt": {Data: mca}, "mca-2025.txt": {Data: mca}, "history.csv": {Data: hist}}, "more than one"},
		{"code missing from the table", fstest.MapFS{"mca-2024.txt": {Data: withoutLine(mca, "330113 临平区")}, "history.csv": {Data: hist}},
			"in use in history but not in the table: 330113"},
		{"code missing from history", fstest.MapFS{"mca-2024.txt": {Data: mca}, "history.csv": {Data: withoutLine(hist, "330113,浙江省,杭州市,临平区,县级,在用,2021,,")}},
			"in the table but not in use in history: 330113"},
		{"successor not in use then", fstest.MapFS{"mca-2024.txt": {Data: mca}, "history.csv": {Data: bytes.Replace(hist,
			[]byte("330103,浙江省,杭州市,下城区,县级,弃用,1983,2021,330105"), []byte("330103,浙江省,杭州市,下城区,县级,弃用,1983,2021,330185"), 1)}},
			"330103 names successor 330185 in 2021, but 330185 was not in use that year"},
		{"bad row", fstest.MapFS{"mca-2024.txt": {Data: append(bytes.Clone(mca), "12345 短\n"...)}, "history.csv": {Data: hist}}, "line 3214"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadTable(tt.files, ".")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadTable = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// An older table's grouping rows load as no places.
	older := append(bytes.Clone(mca), "429000 湖北省省直辖县级行政区划\n500100 市辖区\n"...)
	tab, err = LoadTable(fstest.MapFS{"mca-2020.txt": {Data: older}, "history.csv": {Data: hist}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.CheckPlace("429000"); !errors.Is(err, ErrNotPlace) || tab.Len() != 3213 || tab.Version() != "mca-2020" {
		t.Errorf("grouping rows: CheckPlace(429000) = %v, %d places, version %s", err, tab.Len(), tab.Version())
	}
}

func TestTableProto(t *testing.T) {
	tab := DefaultTable()
	p := tab.Proto()
	size := len(p.GetCurrentGzip()) + len(p.GetHistoryGzip())
	t.Logf("the table adds %d bytes to a snapshot", size)
	if size > 200<<10 {
		t.Errorf("table in a snapshot is %d bytes, want under 200 kB", size)
	}
	got, err := TableFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest() != tab.Digest() || got.Version() != tab.Version() || !got.SameTable(p) {
		t.Errorf("round trip: %s, want %s", got.Identity(), tab.Identity())
	}
	p.Sha256 = bytes.Repeat([]byte{1}, 32)
	if _, err := TableFromProto(p); !errors.Is(err, ErrBadTable) {
		t.Errorf("wrong digest: %v, want ErrBadTable", err)
	}
	p.HistoryGzip = []byte("not gzip")
	if _, err := TableFromProto(p); !errors.Is(err, ErrBadTable) {
		t.Errorf("bad gzip: %v, want ErrBadTable", err)
	}
}

func FuzzLookup(f *testing.F) {
	tab := DefaultTable()
	for _, s := range []string{"150781", "110105", "429000", "330103", "", "abcdef", "15078１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		d, err := tab.Lookup(code)
		if err != nil {
			if cerr := tab.CheckDivision(code); cerr == nil {
				if _, ferr := tab.Fate(code); ferr != nil {
					t.Fatalf("CheckDivision(%q) passes but Fate fails: %v", code, ferr)
				}
			}
			return
		}
		if d.Code != code {
			t.Fatalf("Lookup(%q).Code = %q", code, d.Code)
		}
		chain, err := tab.Chain(code)
		if err != nil {
			t.Fatalf("Chain(%q): %v", code, err)
		}
		if len(chain) == 0 || len(chain) > 3 || chain[len(chain)-1][2:] != "0000" {
			t.Fatalf("Chain(%q) = %v, want 1..3 codes ending at a province", code, chain)
		}
	})
}

func FuzzParseHistory(f *testing.F) {
	f.Add("代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n330103,浙江省,杭州市,下城区,县级,弃用,1983,2021,330105\n")
	f.Add("代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n412723,河南省,周口地区,商水县,县级,弃用,1981,2000,412701[1984];411623\n")
	f.Add("代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n130123,河北省,石家庄市,正定县,县级,在用,1986,,130102[2001];130108[2001]\n110000,北京市,,北京市,省级,在用,1981,,\n")
	f.Add("代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n110101,北京市,直辖,东城区,县级,在用,1981,,\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, data string) {
		ps, err := ParseHistory(strings.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range ps {
			if CheckCodeSyntax(p.Code) != nil || p.Level != levelOf(p.Code) || p.Name == "" ||
				(p.Status == StatusInUse) != (p.Until == 0) || (p.Until != 0 && p.Until <= p.From) {
				t.Fatalf("accepted an inconsistent period %+v", p)
			}
			for _, s := range p.Successors {
				if CheckCodeSyntax(s.Code) != nil || s.Year < p.From || (p.Until != 0 && s.Year > p.Until) {
					t.Fatalf("accepted successor %+v of %+v", s, p)
				}
			}
		}
		// What was accepted survives its own encoding.
		var b bytes.Buffer
		b.WriteString(strings.Join(historyHeader, ",") + "\n")
		for _, p := range ps {
			b.WriteString(strings.Join(csvQuote(encodePeriod(p)), ",") + "\n")
		}
		again, err := ParseHistory(&b)
		if err != nil || len(again) != len(ps) {
			t.Fatalf("re-parsing the encoding: %v (%d of %d periods)", err, len(again), len(ps))
		}
		for i := range ps {
			if !periodsEqual(ps[i], again[i]) {
				t.Fatalf("round trip changed %+v into %+v", ps[i], again[i])
			}
		}
	})
}

func csvQuote(fields []string) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
	}
	return out
}

func periodsEqual(a, b Period) bool {
	return a.Code == b.Code && a.Name == b.Name && a.Level == b.Level && a.Province == b.Province && a.Prefecture == b.Prefecture &&
		a.From == b.From && a.Until == b.Until && a.Status == b.Status && slices.Equal(a.Successors, b.Successors)
}
