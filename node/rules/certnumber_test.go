package rules

import (
	"errors"
	"testing"
	"unicode/utf8"

	"jiexu/registry"
)

func TestCertNumber(t *testing.T) {
	if got := FormatCertNumber("蒙", "呼和浩特", 2025, 42); got != "蒙呼和浩特2025第00042号" {
		t.Fatalf("FormatCertNumber = %q", got)
	}
	n, err := ParseCertNumber("蒙呼和浩特2025第00042号")
	if err != nil || n != (CertNumber{Abbrev: "蒙", Region: "呼和浩特", Year: 2025, Serial: 42}) {
		t.Fatalf("ParseCertNumber = %+v, %v", n, err)
	}
	if got := FormatCertNumber("蒙", "呼和浩特", 2026, 100000); got != "蒙呼和浩特2026第100000号" {
		t.Errorf("serial 100000: %q", got)
	}
	if n, err := ParseCertNumber("吉延边2026第123456号"); err != nil || n.Serial != 123456 {
		t.Errorf("six digits: %+v, %v", n, err)
	}
	for _, bad := range []string{"", "蒙呼和浩特2025第0042号", "蒙呼和浩特2025第012345号", "蒙呼和浩特2025第00042", "蒙呼和浩特25第00042号", "蒙2025第00042号",
		"蒙呼和浩特2025第00000号", "蒙呼和浩特2025第0004a号", "蒙呼和浩特1989第00001号", "蒙呼和浩特+202第00001号", "\xff呼和浩特2025第00001号"} {
		if _, err := ParseCertNumber(bad); !errors.Is(err, ErrCertNumber) {
			t.Errorf("ParseCertNumber(%q) = %v, want ErrCertNumber", bad, err)
		}
	}
}

func FuzzParseCertNumber(f *testing.F) {
	f.Add("蒙呼和浩特2025第00042号")
	f.Add("京北京2026第00001号")
	f.Add("第号")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseCertNumber(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(s) || FormatCertNumber(n.Abbrev, n.Region, n.Year, n.Serial) != s {
			t.Fatalf("ParseCertNumber(%q) = %+v does not round-trip", s, n)
		}
	})
}

// TestEveryPlaceNumbersUniquely: for every place in the table, a number
// made from its abbreviation and certificate name parses back and finds
// that place, and no other.
func TestEveryPlaceNumbersUniquely(t *testing.T) {
	tab := registry.DefaultTable()
	for _, code := range tab.Codes() {
		a, err := tab.Abbrev(code)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := tab.ShortName(code)
		num := FormatCertNumber(a, name, 2026, 1)
		n, err := ParseCertNumber(num)
		if err != nil {
			t.Errorf("%s: ParseCertNumber(%s) = %v", code, num, err)
			continue
		}
		if got, ok := tab.CertRegion(n.Abbrev, n.Region); !ok || got != code {
			t.Errorf("%s: %s finds %s, %v", code, num, got, ok)
		}
	}
}
