package rules

import (
	"fmt"
	"time"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Working-day limits of the 2021 rule (医保办发〔2021〕43号).
const (
	TransferOutDays = 10 // origin: from notification to certificate and remittance
	TransferInDays  = 5  // destination: from certificate to completed transfer-in
	CreditDays      = 5  // destination: from funds arriving to the account credited
	// MaxWaitingMonths is the longest waiting period a region may set.
	MaxWaitingMonths = 6
	// RegisterWithinMonths is the window to register at the new place.
	RegisterWithinMonths = 3
)

// Waiting is a waiting-period decision and the rule behind it.
type Waiting struct {
	Months int
	Reason string
}

// DecideWaiting applies the waiting-period rules: a gap of at most 3 months
// that was back-paid (or no gap) means none (2015 §3, 2021); a switch
// between the employee and resident schemes after at least 24 months of
// contributions means none (2021); otherwise the region's configured period,
// at most 6 months. The months paid stand in for continuous enrolment, which
// the certificate does not itemise.
func DecideWaiting(origin, dest jiexuv1.Scheme, monthsPaid, gap int, backPaid bool, configured int) Waiting {
	configured = min(max(configured, 0), MaxWaitingMonths)
	switch {
	case gap <= 0:
		return Waiting{0, "无缴费中断：不设待遇等待期 (no gap: no waiting period)"}
	case gap <= RegisterWithinMonths && backPaid:
		return Waiting{0, fmt.Sprintf("中断%d个月且已补缴：不设待遇等待期 (gap of %d months, back-paid: no waiting period)", gap, gap)}
	case isUrbanSwitch(origin, dest) && monthsPaid >= 24:
		return Waiting{0, "职工医保与居民医保间转换且连续参保满2年：不设待遇等待期 (scheme switch after 2 years: no waiting period)"}
	}
	return Waiting{configured, fmt.Sprintf("中断%d个月：按本统筹地区规定设待遇等待期%d个月 (gap of %d months: the region's waiting period of %d months)", gap, configured, gap, configured)}
}

func isUrbanSwitch(a, b jiexuv1.Scheme) bool {
	urban := func(s jiexuv1.Scheme) bool {
		return s == jiexuv1.Scheme_SCHEME_EMPLOYEE || s == jiexuv1.Scheme_SCHEME_RESIDENT
	}
	return urban(a) && urban(b) && a != b
}

// GapMonths counts the months with no enrolment between the end of the old
// enrolment and the start of the new one: 2026-03 to 2026-04 is 0.
func GapMonths(oldTo, newFrom *jiexuv1.YearMonth) int {
	if oldTo == nil || newFrom == nil {
		return 0
	}
	return max(MonthIndex(newFrom)-MonthIndex(oldTo)-1, 0)
}

// DateTime is the start of a date in China Standard Time.
func DateTime(d *jiexuv1.Date) time.Time {
	return time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, CST)
}

// PastDue reports whether now is after the whole due day.
func PastDue(due *jiexuv1.Date, now time.Time) bool {
	return due != nil && !now.Before(DateTime(due).AddDate(0, 0, 1))
}

// DateOf is the calendar date of t in China Standard Time.
func DateOf(t time.Time) *jiexuv1.Date {
	t = t.In(CST)
	return &jiexuv1.Date{Year: int32(t.Year()), Month: int32(t.Month()), Day: int32(t.Day())}
}

// YearMonthOf is the month of t in China Standard Time.
func YearMonthOf(t time.Time) *jiexuv1.YearMonth {
	t = t.In(CST)
	return &jiexuv1.YearMonth{Year: int32(t.Year()), Month: int32(t.Month())}
}

// MonthIndex counts months since year 0, for comparisons.
func MonthIndex(ym *jiexuv1.YearMonth) int { return int(ym.GetYear())*12 + int(ym.GetMonth()) - 1 }
