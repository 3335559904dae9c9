package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErrText is returned when a name or free text carries characters that
// must not be in it.
var ErrText = errors.New("text not allowed")

// formulaPrefixes start a formula in a spreadsheet that opens a CSV file.
const formulaPrefixes = "=+-@"

// NormalizeText is how the node stores what a person typed: Unicode NFC
// (so one name has one encoding, whatever keyboard wrote it) without
// leading or trailing white space.
func NormalizeText(s string) string {
	return strings.TrimSpace(norm.NFC.String(s))
}

// CheckText refuses a name or free text that is not valid UTF-8, that
// carries control characters, format characters (bidirectional controls
// such as U+202E, zero-width characters, the byte-order mark), line or
// paragraph separators, private-use or surrogate code points, or that
// begins with = + - @, which a spreadsheet opening an exported CSV file
// would run as a formula.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrText)
	}
	if s != "" && strings.ContainsRune(formulaPrefixes, rune(s[0])) {
		return fmt.Errorf("%w: begins with %q, which a spreadsheet would run as a formula", ErrText, s[0])
	}
	for i, r := range s {
		var what string
		switch {
		case unicode.Is(unicode.Cc, r):
			what = "a control character"
		case unicode.Is(unicode.Cf, r):
			what = "a format character (bidirectional control or zero-width)"
		case unicode.In(r, unicode.Zl, unicode.Zp):
			what = "a line or paragraph separator"
		case unicode.In(r, unicode.Co, unicode.Cs), r == utf8.RuneError:
			what = "a private-use or invalid code point"
		case r&0xfffe == 0xfffe || (r >= 0xfdd0 && r <= 0xfdef):
			what = "a noncharacter"
		default:
			continue
		}
		return fmt.Errorf("%w: U+%04X at byte %d is %s", ErrText, r, i, what)
	}
	return nil
}

// Clip bounds text echoed from input into a log line or an error: at most
// max bytes of whole characters, then "…(N bytes)" saying how long it was.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
