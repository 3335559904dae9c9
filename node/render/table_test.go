package render

import (
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
)

// On ASCII text a Table writes what tabwriter writes, runs of lines and
// last cells included.
func TestTableMatchesTabwriterOnASCII(t *testing.T) {
	for name, text := range map[string]string{
		"header and rows": "#\tSTATUS\tFROM\n1\tactive\t2026-11\n12\ttransferred_out\t2014-02\n",
		"key and value":   "case\t150700-20261125-000001 (destination side)\nstate\tCOMPLETED\n",
		"runs":            "a\tbb\tc\nlonger\tx\nno tab here\nz\ty\tlast\n",
		"no newline":      "a\tb\nccc\td",
		"empty cells":     "\t\tx\nabc\t\t\n",
	} {
		var want strings.Builder
		tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, text)
		tw.Flush()
		var got strings.Builder
		tb := NewTable(&got)
		fmt.Fprint(tb, text)
		tb.Flush()
		if got.String() != want.String() {
			t.Errorf("%s:\ngot\n%q\nwant (tabwriter)\n%q", name, got.String(), want.String())
		}
	}
}

// Chinese names take two columns each: the next column starts at the same
// terminal column on every line.
func TestTableAlignsChinese(t *testing.T) {
	var b strings.Builder
	tb := NewTable(&b)
	fmt.Fprint(tb, "NAME\tBALANCE\tPLACE\n胡超\t￥21,316.09\t呼和浩特\nAlexander\t￥0.00\t满洲里\n")
	tb.Flush()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	var at []int
	for _, l := range lines {
		i := strings.Index(l, "￥")
		if i < 0 {
			i = strings.Index(l, "BALANCE")
		}
		at = append(at, DisplayWidth(l[:i]))
	}
	if at[0] != at[1] || at[1] != at[2] {
		t.Errorf("the balance column starts at terminal columns %v, want one column:\n%s", at, b.String())
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "胡超": 4, "￥1.00": 6, "（其中）": 8, "—": 1, "150124********8140": 18} {
		if got := DisplayWidth(s); got != want {
			t.Errorf("DisplayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
