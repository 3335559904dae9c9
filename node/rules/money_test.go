package rules

import (
	"strings"
	"testing"
)

func TestAmountWords(t *testing.T) {
	for _, tt := range []struct {
		fen  int64
		want string
	}{
		{1640902, "壹万陆仟肆佰零玖元零贰分"}, // DOMAIN.md
		{32504, "叁佰贰拾伍元零肆分"},      // DOMAIN.md
		{102400, "壹仟零贰拾肆元整"},      // DOMAIN.md
		{0, "零元整"},
		{5, "伍分"},
		{50, "伍角"},
		{1000000, "壹万元整"},
		{100100, "壹仟零壹元整"},
		{10000100, "壹拾万零壹元整"},
		{10010000000, "壹亿零壹拾万元整"},
		{100000000000, "壹拾亿元整"},
		{123456789, "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"},
		{1000001, "壹万元零壹分"},
		{203040, "贰仟零叁拾元肆角"},
		{10000000000, "壹亿元整"},
		{10000001000, "壹亿零壹拾元整"},
	} {
		got, err := AmountWords(tt.fen)
		if err != nil || got != tt.want {
			t.Errorf("AmountWords(%d) = %q, %v; want %q", tt.fen, got, err, tt.want)
		}
	}
	for _, bad := range []int64{-1, MaxFen + 1} {
		if _, err := AmountWords(bad); err == nil {
			t.Errorf("AmountWords(%d) succeeded, want error", bad)
		}
	}
}

func TestAmountFiguresAndParse(t *testing.T) {
	for _, tt := range []struct {
		fen  int64
		want string
	}{{102400, "￥1,024.00"}, {1640902, "￥16,409.02"}, {32504, "￥325.04"}, {0, "￥0.00"}, {5, "￥0.05"}, {123456789, "￥1,234,567.89"}} {
		if got := AmountFigures(tt.fen); got != tt.want {
			t.Errorf("AmountFigures(%d) = %q, want %q", tt.fen, got, tt.want)
		}
		if back, err := ParseYuan(tt.want); err != nil || back != tt.fen {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", tt.want, back, err, tt.fen)
		}
	}
	for _, bad := range []string{"", "1.234", "-5", "1e3", "12a", ".5", "9999999999999"} {
		if _, err := ParseYuan(bad); err == nil {
			t.Errorf("ParseYuan(%q) succeeded, want error", bad)
		}
	}
}

// wordsToFen reads back what AmountWords writes, to fuzz it as a round trip.
func wordsToFen(s string) int64 {
	digit := map[rune]int64{'零': 0, '壹': 1, '贰': 2, '叁': 3, '肆': 4, '伍': 5, '陆': 6, '柒': 7, '捌': 8, '玖': 9}
	var total, section, cur int64
	var fen int64
	yuanPart, rest, ok := strings.Cut(s, "元")
	if !ok {
		rest, yuanPart = s, ""
	}
	for _, r := range yuanPart {
		switch r {
		case '拾':
			section += cur * 10
			cur = 0
		case '佰':
			section += cur * 100
			cur = 0
		case '仟':
			section += cur * 1000
			cur = 0
		case '万':
			total += (section + cur) * 10000
			section, cur = 0, 0
		case '亿':
			total = (total + section + cur) * 100000000
			section, cur = 0, 0
		default:
			cur = digit[r]
		}
	}
	total += section + cur
	var last int64
	for _, r := range rest {
		switch r {
		case '角':
			fen += last * 10
		case '分':
			fen += last
		default:
			last = digit[r]
		}
	}
	return total*100 + fen
}

func FuzzAmountWords(f *testing.F) {
	for _, v := range []int64{0, 5, 1640902, 32504, 102400, 10010000000, MaxFen} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, fen int64) {
		w, err := AmountWords(fen)
		if fen < 0 || fen > MaxFen {
			if err == nil {
				t.Fatalf("AmountWords(%d) accepted an out-of-range amount", fen)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(w, "零零") || strings.HasSuffix(w, "零元整") && fen != 0 {
			t.Fatalf("AmountWords(%d) = %q has a doubled or stray 零", fen, w)
		}
		if back := wordsToFen(w); back != fen {
			t.Fatalf("AmountWords(%d) = %q reads back as %d", fen, w, back)
		}
		if back, err := ParseYuan(AmountFigures(fen)); err != nil || back != fen {
			t.Fatalf("figures round trip of %d: %d, %v", fen, back, err)
		}
	})
}
