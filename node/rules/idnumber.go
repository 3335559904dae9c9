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

// IDForm is the kind of number of the GB 11643 layout a person is known by.
type IDForm int

const (
	// IDCitizen is a citizen ID number (公民身份号码, GB 11643-1999).
	IDCitizen IDForm = iota + 1
	// IDHongKongMacao is a residence permit number of a resident of Hong
	// Kong or Macao (港澳居民居住证, since 2018): address code 810000 or 820000.
	IDHongKongMacao
	// IDTaiwan is a residence permit number of a Taiwan resident (台湾居民居住证,
	// since 2018): address code 830000, which is not a GB/T 2260 code.
	IDTaiwan
)

// residencePermits are the address codes of the residence permits.
var residencePermits = map[string]IDForm{"810000": IDHongKongMacao, "820000": IDHongKongMacao, "830000": IDTaiwan}

// FormOf returns the form of a number CheckID accepted.
func FormOf(id string) IDForm {
	if len(id) >= 6 {
		if f, ok := residencePermits[id[:6]]; ok {
			return f
		}
	}
	return IDCitizen
}

// CheckID validates a normalized ID number of the GB 11643-1999 layout: 18
// characters, a real birth date not after today, the MOD 11-2 check
// character, and an address code that is either a known province's (the
// county may have been abolished since; provinceKnown reports whether a
// code's 2-digit prefix is or was a province) or a residence permit's:
// 810000 and 820000 (港澳居民居住证) and 830000 (台湾居民居住证). Refused
// with a reason: 15-digit numbers of before 1999, numbers starting with 9
// (the foreigner's permanent residence ID card, whose digits 2–6 are a
// province and a nationality, not a division), 71 (no citizen numbers are
// issued for 台湾省), and other codes under 81, 82, 83.
func CheckID(id string, provinceKnown func(code string) bool, today time.Time) error {
	if len(id) != 18 {
		if len(id) == 15 {
			return fmt.Errorf("must be 18 characters, got 15 (a number of before 1999: give its 18-character form)")
		}
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
	if err := checkAddress(id[:6], provinceKnown); err != nil {
		return err
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

// checkAddress applies CheckID's rules to the address code.
func checkAddress(addr string, provinceKnown func(code string) bool) error {
	if _, ok := residencePermits[addr]; ok {
		return nil
	}
	switch addr[:2] {
	case "81", "82", "83":
		return fmt.Errorf("address code %s: a residence permit of Hong Kong, Macao or Taiwan residents starts with 810000, 820000 or 830000", addr)
	case "71":
		return fmt.Errorf("address code %s (台湾省): no citizen numbers are issued there; a Taiwan resident's residence permit starts with 830000", addr)
	}
	if addr[0] == '9' {
		return fmt.Errorf("address code %s: province %s does not exist; a number starting with 9 is a foreigner's permanent residence ID card (外国人永久居留身份证), which is not accepted", addr, addr[:2])
	}
	if provinceKnown != nil && !provinceKnown(addr) {
		return fmt.Errorf("address code %s: province %s does not exist", addr, addr[:2])
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
