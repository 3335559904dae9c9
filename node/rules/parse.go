package rules

import (
	"errors"
	"fmt"
	"strings"
	"time"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

var (
	householdWords = map[string]jiexuv1.HouseholdType{
		"agricultural": jiexuv1.HouseholdType_HOUSEHOLD_TYPE_AGRICULTURAL, "农业": jiexuv1.HouseholdType_HOUSEHOLD_TYPE_AGRICULTURAL,
		"non-agricultural": jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL, "非农业": jiexuv1.HouseholdType_HOUSEHOLD_TYPE_NON_AGRICULTURAL,
	}
	schemeWords = map[string]jiexuv1.Scheme{
		"employee": jiexuv1.Scheme_SCHEME_EMPLOYEE, "职工": jiexuv1.Scheme_SCHEME_EMPLOYEE,
		"resident": jiexuv1.Scheme_SCHEME_RESIDENT, "居民": jiexuv1.Scheme_SCHEME_RESIDENT,
		"ncms": jiexuv1.Scheme_SCHEME_NCMS, "新农合": jiexuv1.Scheme_SCHEME_NCMS,
	}
)

// ParseScheme reads employee/职工, resident/居民 or ncms/新农合.
func ParseScheme(s string) (jiexuv1.Scheme, error) {
	if v, ok := schemeWords[strings.ToLower(strings.TrimSpace(s))]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("%q must be employee/职工, resident/居民 or ncms/新农合", s)
}

// ParseHouseholdType reads agricultural/农业 or non-agricultural/非农业.
func ParseHouseholdType(s string) (jiexuv1.HouseholdType, error) {
	if v, ok := householdWords[strings.ToLower(strings.TrimSpace(s))]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("%q must be agricultural/农业 or non-agricultural/非农业", s)
}

// ParseYearMonth reads "2015-03".
func ParseYearMonth(s string) (*jiexuv1.YearMonth, error) {
	t, err := time.Parse("2006-01", strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("must be YYYY-MM, e.g. 2015-03")
	}
	return &jiexuv1.YearMonth{Year: int32(t.Year()), Month: int32(t.Month())}, nil
}
