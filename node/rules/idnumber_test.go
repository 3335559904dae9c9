package rules

import (
	"strings"
	"testing"
	"time"

	"jiexu/registry"
)

// makeID builds a valid ID number from its parts.
func makeID(addr, birth, seq string) string {
	s := addr + birth + seq
	return s + string(IDCheckChar(s))
}

func TestCheckID(t *testing.T) {
	today := time.Date(2026, 11, 23, 0, 0, 0, 0, CST)
	known := registry.DefaultTable().ProvinceKnown
	valid := makeID("150102", "19850312", "123")
	tests := []struct {
		name, id, wantErr string
	}{
		{"valid", valid, ""},
		{"gb example", "11010519491231002X", ""},
		{"abolished county, known province", makeID("159901", "19900101", "001"), ""},
		{"county abolished 2000 (商水县 412723)", makeID("412723", "19700101", "001"), ""},
		{"hainan, province created 1988", makeID("460100", "19700101", "001"), ""},
		{"chongqing, province created 1997", makeID("500101", "19600101", "001"), ""},
		{"hainan before 1988: guangdong's code", makeID("442100", "19600101", "001"), ""},
		{"hong kong residence permit", makeID("810000", "19900101", "001"), ""},
		{"macao residence permit", makeID("820000", "19900101", "002"), ""},
		{"taiwan residence permit", makeID("830000", "19900101", "003"), ""},
		{"not a permit code under 81", makeID("810100", "19900101", "001"), "810000, 820000 or 830000"},
		{"83 other than 830000", makeID("831000", "19900101", "001"), "830000"},
		{"taiwan province: no citizen numbers", makeID("710000", "19900101", "001"), "830000"},
		{"foreigner's permanent residence card (2023)", makeID("911156", "19900101", "001"), "permanent residence"},
		{"15-digit number", "150102850312123", "before 1999"},
		{"short", valid[:17], "18 characters"},
		{"letter inside", "15010219850312A23" + "4", "must be a digit"},
		{"bad check", valid[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", valid[17])+1)%11]), "check character"},
		{"unknown province", makeID("990102", "19850312", "123"), "province 99"},
		{"feb 30", makeID("150102", "19850230", "123"), "not a real date"},
		{"future", makeID("150102", "20270101", "123"), "future"},
		{"too old", makeID("150102", "18000101", "123"), "before 1880"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckID(tt.id, known, today)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckID(%s) = %v, want nil", tt.id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckID(%s) = %v, want error containing %q", tt.id, err, tt.wantErr)
			}
		})
	}
	if got := NormalizeID(" 11010519491231002x "); got != "11010519491231002X" {
		t.Errorf("NormalizeID = %q", got)
	}
	if got := MaskID(valid); got != "150102********"+valid[14:] || strings.Contains(got, "19850312") {
		t.Errorf("MaskID = %q", got)
	}
}

func FuzzCheckID(f *testing.F) {
	today := time.Date(2026, 11, 23, 0, 0, 0, 0, CST)
	known := registry.DefaultTable().ProvinceKnown
	f.Add("11010519491231002X")
	f.Add("150102198503121234")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		err := CheckID(id, known, today)
		if err == nil {
			if IDCheckChar(id[:17]) != id[17] || len(id) != 18 {
				t.Fatalf("CheckID accepted %q", id)
			}
			if m := MaskID(id); strings.Contains(m, id[6:14]) && id[6:14] != "********" {
				t.Fatalf("MaskID(%q) = %q leaks the birth date", id, m)
			}
		}
	})
}

func TestFormOf(t *testing.T) {
	for id, want := range map[string]IDForm{
		makeID("150102", "19850312", "123"): IDCitizen,
		makeID("810000", "19900101", "001"): IDHongKongMacao,
		makeID("820000", "19900101", "001"): IDHongKongMacao,
		makeID("830000", "19900101", "001"): IDTaiwan,
	} {
		if got := FormOf(id); got != want {
			t.Errorf("FormOf(%s) = %v, want %v", id[:6], got, want)
		}
	}
}
