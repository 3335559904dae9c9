package registry

import (
	"errors"
	"testing"
)

func TestTableQuirks(t *testing.T) {
	tab := DefaultTable()
	tests := []struct {
		name, code   string
		wantName     string
		wantLevel    Level
		wantParent   string
		wantFull     string
		wantGrouping bool
	}{
		{"county under prefecture", "150781", "满洲里市", LevelCounty, "150700", "内蒙古自治区呼伦贝尔市满洲里市", false},
		{"prefecture", "150700", "呼伦贝尔市", LevelPrefecture, "150000", "内蒙古自治区呼伦贝尔市", false},
		{"province", "150000", "内蒙古自治区", LevelProvince, "", "内蒙古自治区", false},
		{"municipality district", "110105", "朝阳区", LevelCounty, "110000", "北京市朝阳区", false},
		{"chongqing county under 02", "500229", "城口县", LevelCounty, "500000", "重庆市城口县", false},
		{"prefecture without counties", "441900", "东莞市", LevelPrefecture, "440000", "广东省东莞市", false},
		{"province-administered county city", "429004", "仙桃市", LevelCounty, "420000", "湖北省仙桃市", false},
		{"xinjiang corps city", "659001", "石河子市", LevelCounty, "650000", "新疆维吾尔自治区石河子市", false},
		{"grouping row", "429000", "湖北省-自治区直辖县级行政区划", LevelPrefecture, "420000", "湖北省", true},
		{"hong kong", "810000", "香港特别行政区", LevelProvince, "", "香港特别行政区", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tab.Lookup(tt.code)
			if err != nil {
				t.Fatalf("Lookup(%s): %v", tt.code, err)
			}
			if d.Name != tt.wantName || d.Level != tt.wantLevel || d.Parent != tt.wantParent || d.Grouping != tt.wantGrouping {
				t.Errorf("Lookup(%s) = %+v, want name %s level %v parent %q grouping %v", tt.code, d, tt.wantName, tt.wantLevel, tt.wantParent, tt.wantGrouping)
			}
			full, err := tab.FullName(tt.code)
			if err != nil || full != tt.wantFull {
				t.Errorf("FullName(%s) = %q, %v; want %q", tt.code, full, err, tt.wantFull)
			}
		})
	}
}

func TestAbbrevAndShortName(t *testing.T) {
	tab := DefaultTable()
	for code, want := range map[string]string{"150100": "蒙", "110105": "京", "500229": "渝", "659001": "新", "520100": "贵"} {
		if got, err := tab.Abbrev(code); err != nil || got != want {
			t.Errorf("Abbrev(%s) = %q, %v; want %q", code, got, err, want)
		}
	}
	for code, want := range map[string]string{"150100": "呼和浩特", "110000": "北京", "152200": "兴安盟", "150781": "满洲里"} {
		if got, err := tab.ShortName(code); err != nil || got != want {
			t.Errorf("ShortName(%s) = %q, %v; want %q", code, got, err, want)
		}
	}
}

func TestLookupRefusals(t *testing.T) {
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
	} {
		if _, err := tab.Lookup(tt.code); !errors.Is(err, tt.want) {
			t.Errorf("Lookup(%q) error = %v, want %v", tt.code, err, tt.want)
		}
	}
	if err := tab.CheckPlace("469000"); !errors.Is(err, ErrNotPlace) {
		t.Errorf("CheckPlace(469000) = %v, want ErrNotPlace", err)
	}
}

func TestLoadTableDir(t *testing.T) {
	tab, err := LoadTableDir("gbt2260")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tab.Len(), DefaultTable().Len(); got != want || got < 3000 {
		t.Errorf("LoadTableDir rows = %d, want %d (>3000)", got, want)
	}
	if _, err := LoadTableDir(t.TempDir()); err == nil {
		t.Error("LoadTableDir(empty folder) succeeded, want error")
	}
}

func FuzzLookup(f *testing.F) {
	tab := DefaultTable()
	for _, s := range []string{"150781", "110105", "429000", "", "abcdef", "15078１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		d, err := tab.Lookup(code)
		if err != nil {
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
