package rules

import (
	"errors"
	"strconv"
	"strings"
)

// MaxFen is the largest amount the network accepts: ￥1,000,000,000.00
// (a sane upper bound for any personal account, well inside int64).
const MaxFen = 100_000_000_000

var (
	cnDigits = []string{"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"}
	cnUnits  = []string{"", "拾", "佰", "仟"}
	cnGroups = []string{"", "万", "亿", "万亿"}
)

// ErrAmount is returned for a negative or too large amount.
var ErrAmount = errors.New("amount must be between 0 and 1,000,000,000.00 yuan")

// AmountWords writes an amount of fen in words (人民币大写) following the
// central bank's rules: a run of zeros inside the number is one 零; 整 after 元
// when there are no 角 or 分; 零 after 元 when 角 is zero and 分 is not.
// ￥16,409.02 → 壹万陆仟肆佰零玖元零贰分; ￥1,024.00 → 壹仟零贰拾肆元整; 0 → 零元整.
func AmountWords(fen int64) (string, error) {
	if fen < 0 || fen > MaxFen {
		return "", ErrAmount
	}
	yuan, jiao, f := fen/100, (fen/10)%10, fen%10
	var b strings.Builder
	if yuan == 0 {
		if jiao == 0 && f == 0 {
			return "零元整", nil
		}
	} else {
		b.WriteString(yuanWords(yuan))
		b.WriteString("元")
	}
	switch {
	case jiao == 0 && f == 0:
		b.WriteString("整")
	case jiao == 0:
		if yuan != 0 {
			b.WriteString("零")
		}
		b.WriteString(cnDigits[f] + "分")
	default:
		b.WriteString(cnDigits[jiao] + "角")
		if f != 0 {
			b.WriteString(cnDigits[f] + "分")
		}
	}
	return b.String(), nil
}

// yuanWords writes a positive integer in words, groups of four digits with
// 万/亿, one 零 for each run of zeros between non-zero digits.
func yuanWords(n int64) string {
	var groups []int64
	for n > 0 {
		groups = append(groups, n%10000)
		n /= 10000
	}
	var b strings.Builder
	zero := false // a zero is pending between written digits
	for gi := len(groups) - 1; gi >= 0; gi-- {
		g := groups[gi]
		if g == 0 {
			zero = b.Len() > 0
			continue
		}
		for pos := 3; pos >= 0; pos-- {
			d := (g / pow10(pos)) % 10
			if d == 0 {
				if b.Len() > 0 {
					zero = true
				}
				continue
			}
			if zero {
				b.WriteString("零")
				zero = false
			}
			b.WriteString(cnDigits[d] + cnUnits[pos])
		}
		b.WriteString(cnGroups[gi])
	}
	return b.String()
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// AmountFigures writes fen as ￥1,024.00.
func AmountFigures(fen int64) string {
	neg := fen < 0
	if neg {
		fen = -fen
	}
	s := strconv.FormatInt(fen/100, 10)
	var b strings.Builder
	if neg {
		b.WriteString("-")
	}
	b.WriteString("￥")
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	b.WriteString("." + strconv.FormatInt(fen%100/10, 10) + strconv.FormatInt(fen%10, 10))
	return b.String()
}

// ParseYuan reads an amount written in yuan ("1024", "1024.5", "1,024.00",
// "￥16,409.02") into fen, refusing more than two decimals.
func ParseYuan(s string) (int64, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "￥"), "¥")
	s = strings.ReplaceAll(s, ",", "")
	if s == "" {
		return 0, errors.New("empty amount")
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	if hasFrac && (len(frac) == 0 || len(frac) > 2) {
		return 0, errors.New("at most two decimals (fen)")
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, errors.New("only digits, one decimal point and thousands commas")
			}
		}
	}
	if whole == "" || len(whole) > 12 {
		return 0, ErrAmount
	}
	y, _ := strconv.ParseInt(whole, 10, 64)
	frac = (frac + "00")[:2]
	f, _ := strconv.ParseInt(frac, 10, 64)
	fen := y*100 + f
	if fen > MaxFen {
		return 0, ErrAmount
	}
	return fen, nil
}
