package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"Han name", "王伟", true},
		{"Mongolian name with a middle dot", "额尔德尼·巴特尔", true},
		{"place", "内蒙古自治区呼和浩特市新城区", true},
		{"empty", "", true},
		{"right-to-left override", "王\u202e伟", false},
		{"isolate", "\u2066王伟\u2069", false},
		{"zero-width space", "王\u200b伟", false},
		{"zero-width joiner", "王\u200d伟", false},
		{"byte-order mark", "\ufeff王伟", false},
		{"soft hyphen", "王\u00ad伟", false},
		{"newline", "王\n伟", false},
		{"tab first", "\t王伟", false},
		{"line separator", "王\u2028伟", false},
		{"private use", "王\ue000伟", false},
		{"noncharacter", "王\uffff伟", false},
		{"formula =", "=HYPERLINK(\"http://x\")", false},
		{"formula +", "+86 123", false},
		{"formula -", "-1+1", false},
		{"formula @", "@SUM(A1)", false},
		{"= inside", "王=伟", true},
		{"invalid UTF-8", "王\xff", false},
	}
	for _, tt := range tests {
		err := CheckText(tt.in)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrText)) {
			t.Errorf("%s: CheckText(%q) = %v, want ok %v", tt.name, tt.in, err, tt.ok)
		}
	}
}

func TestNormalizeText(t *testing.T) {
	if got := NormalizeText(" Ame\u0301lie "); got != "Am\u00e9lie" {
		t.Errorf("NormalizeText = %q, want the composed form without spaces", got)
	}
	if got := NormalizeText("王伟"); got != "王伟" {
		t.Errorf("NormalizeText(王伟) = %q", got)
	}
}

func TestClip(t *testing.T) {
	if got := Clip("short", 10); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
	got := Clip(strings.Repeat("名", 1000), 10)
	if got != "名名名…(3000 bytes)" {
		t.Errorf("Clip = %q", got)
	}
}

func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"王伟", "\u202e", "=1", "a\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckText(s) == nil {
			n := NormalizeText(s)
			if CheckText(n) != nil && !strings.ContainsAny(n[:min(1, len(n))], formulaPrefixes) {
				t.Fatalf("%q passes but its normal form %q does not", s, n)
			}
		}
		_ = Clip(s, 7)
	})
}
