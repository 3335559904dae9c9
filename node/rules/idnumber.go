package rules

import (
	"fmt"
	"strings"
	"time"
)

// idWeights and idCheck implement ISO 7064 MOD 11-2 for GB 11643-1999.
var (
	idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	idCheck   = "10X98765432"
)

// NormalizeID upper-cases a trailing x and trims spaces.
func NormalizeID(s string) string {
	return strings.ToUpper(strings.TrimSpace(s))
}

// IDCheckChar returns the check character for the first 17 digits.
func IDCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheck[sum%11]
}

// CheckID validates a normalized citizen ID number (GB 11643-1999): 18
// characters, a known province in the address code (the county may have been
// abolished since), a real birth date not after today, and the MOD 11-2 check
// character. provinceKnown reports whether a 2-digit prefix is a province.
func CheckID(id string, provinceKnown func(code string) bool, today time.Time) error {
	if len(id) != 18 {
		return fmt.Errorf("must be 18 characters, got %d", len([]rune(id)))
	}
	for i := 0; i < 17; i++ {
		if id[i] < '0' || id[i] > '9' {
			return fmt.Errorf("character %d must be a digit", i+1)
		}
	}
	if c := id[17]; (c < '0' || c > '9') && c != 'X' {
		return fmt.Errorf("last character must be a digit or X")
	}
	if provinceKnown != nil && !provinceKnown(id[:6]) {
		return fmt.Errorf("address code %s: province %s does not exist", id[:6], id[:2])
	}
	birth, err := time.ParseInLocation("20060102", id[6:14], CST)
	if err != nil || birth.Format("20060102") != id[6:14] {
		return fmt.Errorf("birth date %s is not a real date", id[6:14])
	}
	if birth.Year() < 1880 {
		return fmt.Errorf("birth date %s is before 1880", id[6:14])
	}
	if birth.After(today) {
		return fmt.Errorf("birth date %s is in the future", id[6:14])
	}
	if want := IDCheckChar(id[:17]); id[17] != want {
		return fmt.Errorf("check character is %c, MOD 11-2 gives %c", id[17], want)
	}
	return nil
}

// MaskID hides the birth date and sequence of an ID number for logs:
// 150102********1234. Anything that is not 18 characters is masked whole.
func MaskID(id string) string {
	if len(id) != 18 {
		return strings.Repeat("*", len([]rune(id)))
	}
	return id[:6] + "********" + id[14:]
}

// CST is China Standard Time, in which dates on certificates are written.
var CST = time.FixedZone("CST", 8*3600)
