package rules

import (
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02", s, CST)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAddWorkdays(t *testing.T) {
	c := DefaultCalendar()
	tests := []struct {
		name, from string
		n          int
		want       string
	}{
		{"plain week", "2026-11-23", 5, "2026-11-30"},
		{"friday to monday", "2026-11-27", 1, "2026-11-30"},
		{"ten working days", "2026-11-23", 10, "2026-12-07"},
		{"over national day with make-up saturday", "2026-09-30", 1, "2026-10-08"},
		{"make-up saturday counts", "2026-10-09", 1, "2026-10-10"},
		{"make-up sunday before the break", "2026-09-18", 1, "2026-09-20"},
		{"spring festival 2026", "2026-02-13", 1, "2026-02-14"},
		{"through spring festival", "2026-02-14", 1, "2026-02-24"},
		{"2025 national day eight days", "2025-09-30", 1, "2025-10-09"},
		{"new year 2026", "2025-12-31", 1, "2026-01-04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.AddWorkdays(day(tt.from), tt.n).Format("2006-01-02"); got != tt.want {
				t.Errorf("AddWorkdays(%s, %d) = %s, want %s", tt.from, tt.n, got, tt.want)
			}
		})
	}
	if c.Last.Year() < 2026 {
		t.Errorf("embedded calendar ends %s", c.Last)
	}
}

func TestCalendarBeyondItsYears(t *testing.T) {
	c := DefaultCalendar()
	if c.Covers(day("2027-01-01")) || !c.Covers(day("2026-12-31")) {
		t.Fatalf("Covers: the embedded calendar holds %v", c.Years())
	}
	// The finding: a deadline running into 2027 counted 元旦 as a working day.
	if c.IsWorkday(day("2027-01-01")) {
		t.Error("2027-01-01 (元旦, statutory) counted as a working day")
	}
	got, certain := c.AddWorkdaysCertain(day("2026-12-30"), 2)
	if got.Format(time.DateOnly) != "2027-01-04" || certain {
		t.Errorf("AddWorkdaysCertain(2026-12-30, 2) = %s certain=%v, want 2027-01-04 uncertain", got.Format(time.DateOnly), certain)
	}
	if _, certain := c.AddWorkdaysCertain(day("2026-11-25"), 10); !certain {
		t.Error("a deadline inside 2026 is uncertain")
	}
}

// The domain review: a suspension on 2026-11-07 had its last day to
// register on 2027-02-08, 正月初三, a statutory day of 春节. The lunar
// statutory days are fixed by law ahead of the year's notice.
func TestLunarStatutoryHolidays(t *testing.T) {
	c := DefaultCalendar()
	for _, d := range []string{"2027-02-05", "2027-02-06", "2027-02-08", "2027-04-05", "2027-06-09", "2027-09-15", "2030-02-03", "2035-09-16"} {
		if c.IsWorkday(day(d)) {
			t.Errorf("%s, a lunar statutory holiday, counted as a working day", d)
		}
	}
	if by, certain := c.RegisterBy(day("2026-11-07")); by.Format(time.DateOnly) != "2027-02-09" || certain {
		t.Errorf("RegisterBy(2026-11-07) = %s certain=%v, want 2027-02-09 (after 春节's statutory days), uncertain", by.Format(time.DateOnly), certain)
	}
	// statutory.csv agrees with the State Council's notices where the
	// embedded calendar has them: every statutory day there is a holiday.
	for date, name := range statutoryLunar {
		d := day(date)
		if c.Covers(d) {
			if _, ok := c.holidays[date]; !ok {
				t.Errorf("statutory.csv lists %s (%s), which the notice for %d does not make a holiday", date, name, d.Year())
			}
		}
	}
}

func TestParseCalendarRefuses(t *testing.T) {
	for _, bad := range []string{"2026-13-01,holiday", "2026-10-01", "2026-10-01,vacation", "2026-11-23,workday,a Monday"} {
		if _, err := ParseCalendar(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseCalendar(%q) succeeded", bad)
		}
	}
}
