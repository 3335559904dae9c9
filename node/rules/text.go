package rules

import (
	"strconv"
	"unicode/utf8"
)

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
