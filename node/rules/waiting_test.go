package rules

import (
	"strings"
	"testing"
	"time"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestDecideWaiting(t *testing.T) {
	emp, res, ncms := jiexuv1.Scheme_SCHEME_EMPLOYEE, jiexuv1.Scheme_SCHEME_RESIDENT, jiexuv1.Scheme_SCHEME_NCMS
	tests := []struct {
		name         string
		origin, dest jiexuv1.Scheme
		continuous   int
		gap          int
		backPaid     bool
		configured   int
		want         int
		reason       string
	}{
		{"no gap", emp, emp, 10, 0, false, 6, 0, "无缴费中断"},
		{"gap 3 back-paid", emp, emp, 10, 3, true, 6, 0, "缴费中断3个月"},
		{"gap 3 not back-paid", emp, emp, 10, 3, false, 6, 6, "未补缴"},
		{"gap 4 back-paid", emp, emp, 10, 4, true, 6, 6, "缴费中断4个月（已补缴）"},
		{"ncms to employee, gap 2 back-paid (2015 §3)", ncms, emp, 60, 2, true, 3, 0, "不设待遇等待期"},
		{"ncms to resident, gap 5", ncms, res, 60, 5, true, 3, 3, "缴费中断5个月"},
		// The finding: any gap was waived on a scheme switch. An 8-month gap is
		// not bridged, whatever the years of enrolment.
		{"employee to resident after 24 months, gap 8", emp, res, 24, 8, false, 6, 6, "缴费中断8个月"},
		{"employee to resident after 24 months, gap 8 back-paid", emp, res, 24, 8, true, 4, 4, "缴费中断8个月"},
		{"employee to resident after 24 months, gap 2 back-paid", emp, res, 24, 2, true, 6, 0, "连续参保24个月"},
		{"employee to resident after 24 months, no gap", emp, res, 24, 0, false, 6, 0, "无缴费中断"},
		// No gap, nothing to wait for, whatever the years (the review's point).
		{"resident to employee after 23 months, no gap", res, emp, 23, 0, false, 4, 0, "无缴费中断"},
		// A gap of at most 3 months, back-paid, has no waiting period on any
		// switch (2015 §3); after less than 2 years the gap is not covered.
		{"resident to employee after 23 months, gap 2 back-paid", res, emp, 23, 2, true, 4, 0, "中断期间的待遇不追溯"},
		{"employee to resident after 13 months, gap 1 back-paid", emp, res, 13, 1, true, 3, 0, "不受待遇享受等待期限制"},
		{"configured over the cap", emp, emp, 10, 5, false, 9, 6, "待遇等待期6个月"},
		{"configured below zero", emp, emp, 10, 5, false, -1, 0, "待遇等待期0个月"},
		{"one month, in English", emp, emp, 10, 1, false, 1, 1, "a gap of 1 month: the region's waiting period of 1 month"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecideWaiting(tt.origin, tt.dest, tt.continuous, tt.gap, tt.backPaid, tt.configured)
			if got.Months != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("DecideWaiting = %+v, want %d months with a reason containing %q", got, tt.want, tt.reason)
			}
		})
	}
}

func TestGapMonths(t *testing.T) {
	ym := func(y, m int32) *jiexuv1.YearMonth { return &jiexuv1.YearMonth{Year: y, Month: m} }
	for _, tt := range []struct {
		to, from *jiexuv1.YearMonth
		want     int
	}{{ym(2026, 3), ym(2026, 4), 0}, {ym(2026, 3), ym(2026, 3), 0}, {ym(2025, 11), ym(2026, 3), 3}, {ym(2026, 5), ym(2026, 1), 0},
		{ym(2026, 5), ym(2026, 11), 5}} {
		if got := GapMonths(tt.to, tt.from); got != tt.want {
			t.Errorf("GapMonths(%v, %v) = %d, want %d", tt.to, tt.from, got, tt.want)
		}
	}
	if got := ContinuousMonths(ym(2024, 7), ym(2026, 6)); got != 24 {
		t.Errorf("ContinuousMonths(2024-07, 2026-06) = %d, want 24", got)
	}
}

func TestAddMonthsAndRegisterBy(t *testing.T) {
	c := DefaultCalendar()
	tests := []struct {
		name, suspended, plus3, registerBy string
		certain                            bool
	}{
		// 民法典 §202: no corresponding day, so the month's last day. It is a
		// make-up working Saturday (春节调休), so it stays.
		{"month end", "2025-11-30", "2026-02-28", "2026-02-28", true},
		{"plain", "2026-03-16", "2026-06-16", "2026-06-16", true},
		{"last day a sunday", "2026-05-10", "2026-08-10", "2026-08-10", true},
		{"sunday moves to monday", "2026-05-09", "2026-08-09", "2026-08-10", true},
		// §203: a last day in the National Day holiday moves past it.
		{"national day", "2026-07-02", "2026-10-02", "2026-10-08", true},
		{"leap day", "2023-11-29", "2024-02-29", "2024-02-29", false},
		{"into a year without a calendar", "2026-10-01", "2027-01-01", "2027-01-04", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := day(tt.suspended)
			if got := AddMonths(s, 3).Format(time.DateOnly); got != tt.plus3 {
				t.Errorf("AddMonths(%s, 3) = %s, want %s", tt.suspended, got, tt.plus3)
			}
			got, certain := c.RegisterBy(s)
			if got.Format(time.DateOnly) != tt.registerBy || certain != tt.certain {
				t.Errorf("RegisterBy(%s) = %s certain=%v, want %s certain=%v", tt.suspended, got.Format(time.DateOnly), certain, tt.registerBy, tt.certain)
			}
		})
	}
}
