package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrCertNumber is returned for a malformed certificate number.
var ErrCertNumber = errors.New("certificate number must look like 蒙呼和浩特2025第00042号")

// FormatCertNumber writes （省简称）（统筹区名）年份（第NNNNN号）. The 2015
// template's serial has five digits; from the 100,000th certificate of a
// year it has six, as the 2009 template's （第 XXXXXX 号）, and more if ever
// needed: a number is never refused for its serial.
func FormatCertNumber(abbrev, region string, year int, serial uint32) string {
	return fmt.Sprintf("%s%s%04d第%05d号", abbrev, region, year, serial)
}

// CertNumber is a parsed certificate number.
type CertNumber struct {
	Abbrev, Region string
	Year           int
	Serial         uint32
}

// ParseCertNumber reads a certificate number written by FormatCertNumber.
func ParseCertNumber(s string) (CertNumber, error) {
	var n CertNumber
	if !utf8.ValidString(s) || !strings.HasSuffix(s, "号") {
		return n, ErrCertNumber
	}
	body := strings.TrimSuffix(s, "号")
	i := strings.LastIndex(body, "第")
	if i < 0 {
		return n, ErrCertNumber
	}
	serial := body[i+len("第"):]
	head := body[:i]
	if len(serial) < 5 || len(head) < 4 {
		return n, ErrCertNumber
	}
	sv, err := strconv.ParseUint(serial, 10, 32)
	if err != nil || sv == 0 {
		return n, ErrCertNumber
	}
	year, err := strconv.Atoi(head[len(head)-4:])
	if err != nil || year < 1990 || year > 9999 || strings.ContainsAny(head[len(head)-4:], "+-") {
		return n, ErrCertNumber
	}
	rest := head[:len(head)-4]
	abbrev, size := utf8.DecodeRuneInString(rest)
	if size == 0 || abbrev == utf8.RuneError || utf8.RuneCountInString(rest) < 3 || strings.ContainsAny(rest, "0123456789") {
		return n, ErrCertNumber
	}
	n = CertNumber{Abbrev: string(abbrev), Region: rest[size:], Year: year, Serial: uint32(sv)}
	if FormatCertNumber(n.Abbrev, n.Region, n.Year, n.Serial) != s {
		return CertNumber{}, ErrCertNumber
	}
	return n, nil
}
