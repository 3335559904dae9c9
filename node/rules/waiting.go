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

// ContinuousMonths counts the months from one month to another, both
// included: the span of an enrolment period (an interruption starts a new
// period), or of a continuous chain of periods across transfers.
func ContinuousMonths(from, to *jiexuv1.YearMonth) int {
	if from == nil || to == nil {
		return 0
	}
	return max(MonthIndex(to)-MonthIndex(from)+1, 0)
}

// DecideWaiting applies the waiting-period rules to a transfer:
//   - no gap between the origin's 参保止 and the destination's 参保起 means no
//     waiting period: there is nothing to wait for;
//   - a gap of at most 3 months that was back-paid means none either, for
//     any scheme (2015 §3: "参保缴费中断不超过3个月且补缴中断期间医疗保险费
//     的，不受待遇享受等待期限制"); the 2021 rule lets a region set one only
//     for longer gaps. What the 2021 rule reserves to a switch between the
//     employee and resident schemes after at least 2 years (24 months) of
//     continuous enrolment is the cover of the gap itself, back from the
//     month of payment; the reason says which applies;
//   - otherwise the region's configured waiting period, at most 6 months.
//
// continuous is the months of continuous enrolment up to the origin's 参保止
// (see ContinuousMonths and the certificate's continuous_from).
func DecideWaiting(origin, dest jiexuv1.Scheme, continuous, gap int, backPaid bool, configured int) Waiting {
	configured = min(max(configured, 0), MaxWaitingMonths)
	bridged := gap <= RegisterWithinMonths && backPaid
	switch {
	case gap <= 0:
		return Waiting{0, "无缴费中断：不设待遇等待期 (no gap: no waiting period)"}
	case bridged && isUrbanSwitch(origin, dest) && continuous >= 24:
		return Waiting{0, fmt.Sprintf("职工医保与居民医保间转换，连续参保%d个月（满2年），缴费中断%d个月且已补缴：不设待遇等待期 (scheme switch after %s of continuous enrolment, a gap of %s back-paid: no waiting period)",
			continuous, gap, MonthsEnglish(continuous), MonthsEnglish(gap))}
	case bridged && isUrbanSwitch(origin, dest):
		return Waiting{0, fmt.Sprintf("缴费中断%d个月且已补缴：不受待遇享受等待期限制；职工医保与居民医保间转换，连续参保%d个月，不满2年：中断期间的待遇不追溯 (a gap of %s, back-paid: no waiting period; a scheme switch after only %s of continuous enrolment: the gap itself is not covered)",
			gap, continuous, MonthsEnglish(gap), MonthsEnglish(continuous))}
	case bridged:
		return Waiting{0, fmt.Sprintf("缴费中断%d个月且已补缴：不设待遇等待期 (a gap of %s, back-paid: no waiting period)", gap, MonthsEnglish(gap))}
	}
	paid := "未补缴"
	if backPaid {
		paid = "已补缴"
	}
	return Waiting{configured, fmt.Sprintf("缴费中断%d个月（%s）：按本统筹地区规定设待遇等待期%d个月 (a gap of %s: the region's waiting period of %s)",
		gap, paid, configured, MonthsEnglish(gap), MonthsEnglish(configured))}
}

// MonthsEnglish words a count of months in English: "1 month", "5 months".
func MonthsEnglish(n int) string {
	if n == 1 {
		return "1 month"
	}
	return fmt.Sprintf("%d months", n)
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

// HasPersonalAccount reports whether a scheme keeps a personal account
// (个人账户). Only the employee scheme does: NCMS and most resident schemes
// have none (DOMAIN.md rule 6), so nothing is credited there.
func HasPersonalAccount(s jiexuv1.Scheme) bool { return s == jiexuv1.Scheme_SCHEME_EMPLOYEE }

// MonthsSinceBirth is how many months lie between the birth month an ID
// number gives and now: no one has paid, or been enrolled, for longer.
// It returns -1 for a number that gives no birth date.
func MonthsSinceBirth(id string, now time.Time) int {
	if len(id) != 18 {
		return -1
	}
	birth, err := time.ParseInLocation("20060102", id[6:14], CST)
	if err != nil {
		return -1
	}
	now = now.In(CST)
	return (now.Year()-birth.Year())*12 + int(now.Month()) - int(birth.Month()) + 1
}
