package registry

import (
	"fmt"
	"strconv"
	"strings"
)

// residencePermits are the address codes of residence permits for
// residents of Hong Kong, Macao and Taiwan (港澳台居民居住证, since 2018),
// which share the citizen number's layout. 830000 is not a division code:
// 台湾省 is 710000 in GB/T 2260, and no citizen numbers are issued there.
var residencePermits = map[string]string{
	"810000": "香港特别行政区居民 (港澳居民居住证)",
	"820000": "澳门特别行政区居民 (港澳居民居住证)",
	"830000": "台湾居民 (台湾居民居住证; 830000 is not a division code)",
}

// Origin is where an ID number was issued, from the history of its address
// code (the county of the person's registration, which may have been
// abolished since).
type Origin struct {
	// Code is the number's address code.
	Code string
	// Place is the full name at the time: 河南省周口地区商水县.
	Place string
	// Period is the period of Code taken for the registration; nil for a
	// residence permit or a code history does not know.
	Period *Period
	// Now are the codes in force that cover the place today, when Code is
	// no longer in force.
	Now []string
}

// String is one line for a certificate or a refusal:
// "412723 河南省周口地区商水县 (abolished 2000; now 411623 河南省周口市商水县)".
func (o Origin) String() string {
	s := o.Code + " " + o.Place
	switch {
	case o.Period != nil && o.Period.Status != StatusInUse && len(o.Now) > 0:
		s += fmt.Sprintf(" (%s %d; now %s)", o.Period.Status, o.Period.Until, strings.Join(o.Now, ", "))
	case o.Period != nil && o.Period.Status != StatusInUse:
		s += fmt.Sprintf(" (%s %d)", o.Period.Status, o.Period.Until)
	}
	return s
}

// IssuedAt says where an ID number (GB 11643 layout, 18 characters) was
// issued: the division its address code named when the person was
// registered — the period of the code still in use after the birth year,
// the earliest such — and what covers that place now. A code history does
// not know is described by its province; a residence permit by its kind.
// Only the layout is checked here (rules.CheckID checks the number).
func (t *Table) IssuedAt(id string) (Origin, error) {
	if len(id) < 10 {
		return Origin{}, fmt.Errorf("%w: an ID number has 18 characters", ErrMalformedCode)
	}
	code := id[:6]
	if err := CheckCodeSyntax(code); err != nil {
		return Origin{}, fmt.Errorf("%w: address code %q", err, truncate(code))
	}
	birth, err := strconv.Atoi(id[6:10])
	if err != nil {
		return Origin{}, fmt.Errorf("birth year %q is not a number", id[6:10])
	}
	if what, ok := residencePermits[code]; ok {
		return Origin{Code: code, Place: what}, nil
	}
	ps := t.history[code]
	if len(ps) == 0 {
		province := t.NameAt(code[:2]+"0000", birth)
		if province == "" {
			return Origin{}, fmt.Errorf("%w: address code %s: no province %s", ErrUnknownDivision, code, code[:2])
		}
		return Origin{Code: code, Place: province + " (a county code GB/T 2260 does not list since 1981)"}, nil
	}
	p := ps[0]
	for _, q := range ps { // newest first: the last match is the earliest
		if q.Until == 0 || q.Until > birth {
			p = q
		}
	}
	o := Origin{Code: code, Period: &p, Place: p.Place() + p.Name}
	if p.Level == LevelPrefecture {
		o.Place = p.Province + p.Name
	}
	if p.Level == LevelProvince {
		o.Place = p.Name
	}
	if p.Status != StatusInUse {
		f, err := t.fate(p, map[string]bool{})
		if err == nil {
			for _, l := range f.Now {
				full, _ := t.FullName(l.Code)
				o.Now = append(o.Now, l.Code+" "+full)
			}
		}
	}
	return o, nil
}
