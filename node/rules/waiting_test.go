package rules

import (
	"testing"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestDecideWaiting(t *testing.T) {
	emp, res, ncms := jiexuv1.Scheme_SCHEME_EMPLOYEE, jiexuv1.Scheme_SCHEME_RESIDENT, jiexuv1.Scheme_SCHEME_NCMS
	tests := []struct {
		name         string
		origin, dest jiexuv1.Scheme
		paid, gap    int
		backPaid     bool
		configured   int
		want         int
	}{
		{"continuous", emp, emp, 10, 0, false, 6, 0},
		{"gap 3 back-paid", emp, emp, 10, 3, true, 6, 0},
		{"gap 3 not back-paid", emp, emp, 10, 3, false, 6, 6},
		{"gap 4 back-paid", emp, emp, 10, 4, true, 6, 6},
		{"employee to resident after 24 months", emp, res, 24, 8, false, 6, 0},
		{"resident to employee after 23 months", res, emp, 23, 8, false, 4, 4},
		{"ncms to resident is not a switch", ncms, res, 60, 8, false, 3, 3},
		{"configured over the cap", emp, emp, 10, 5, false, 9, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecideWaiting(tt.origin, tt.dest, tt.paid, tt.gap, tt.backPaid, tt.configured)
			if got.Months != tt.want || got.Reason == "" {
				t.Errorf("DecideWaiting = %+v, want %d months with a reason", got, tt.want)
			}
		})
	}
}

func TestGapMonths(t *testing.T) {
	ym := func(y, m int32) *jiexuv1.YearMonth { return &jiexuv1.YearMonth{Year: y, Month: m} }
	for _, tt := range []struct {
		to, from *jiexuv1.YearMonth
		want     int
	}{{ym(2026, 3), ym(2026, 4), 0}, {ym(2026, 3), ym(2026, 3), 0}, {ym(2025, 11), ym(2026, 3), 3}, {ym(2026, 5), ym(2026, 1), 0}} {
		if got := GapMonths(tt.to, tt.from); got != tt.want {
			t.Errorf("GapMonths(%v, %v) = %d, want %d", tt.to, tt.from, got, tt.want)
		}
	}
}
