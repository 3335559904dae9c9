package rules

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

//go:embed holidays.csv
var defaultHolidays string

//go:embed statutory.csv
var statutoryCSV string

// Calendar is the working-day calendar: weekdays are working days except
// public holidays, and some weekends are working days (调休). A year the
// calendar has no entries for is not covered: its statutory holidays still
// count (the fixed-date ones, and the lunar ones for the years statutory.csv
// lists), but the bridging days and make-up days its notice will add are
// unknown, so a date there is uncertain.
type Calendar struct {
	holidays map[string]string // YYYY-MM-DD → name
	workdays map[string]string
	years    map[int]bool // the years the calendar has entries for
	// Last is the last date the calendar has data for.
	Last time.Time
}

// statutory are the fixed-date public holidays of the State Council's
// 《全国年节及纪念日放假办法》 (as amended in 2024): they are holidays in
// every year, whatever the year's notice adds to them.
var statutory = map[string]string{"01-01": "元旦", "05-01": "劳动节", "05-02": "劳动节", "10-01": "国庆节", "10-02": "国庆节", "10-03": "国庆节"}

// statutoryLunar are the lunar-calendar statutory holidays (春节, 清明节,
// 端午节, 中秋节) by date, YYYY-MM-DD, for the years statutory.csv lists.
var statutoryLunar = func() map[string]string {
	c, err := ParseCalendar(strings.NewReader(convertStatutory(statutoryCSV)))
	if err != nil {
		panic("rules: embedded statutory.csv: " + err.Error())
	}
	return c.holidays
}()

// convertStatutory turns statutory.csv's date,name lines into holiday lines.
func convertStatutory(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if date, name, ok := strings.Cut(strings.TrimSpace(line), ","); ok && !strings.HasPrefix(line, "#") {
			b.WriteString(date + ",holiday," + name + "\n")
		}
	}
	return b.String()
}

// StatutoryHoliday reports whether t's date is a statutory public holiday
// (fixed or lunar), and its name.
func StatutoryHoliday(t time.Time) (string, bool) {
	key := t.In(CST).Format("2006-01-02")
	if name, ok := statutory[key[5:]]; ok {
		return name, true
	}
	name, ok := statutoryLunar[key]
	return name, ok
}

// Covers reports whether the calendar holds the holidays and make-up days of
// t's year.
func (c *Calendar) Covers(t time.Time) bool { return c.years[t.In(CST).Year()] }

// Years lists the years the calendar covers.
func (c *Calendar) Years() []int {
	out := make([]int, 0, len(c.years))
	for y := range c.years {
		out = append(out, y)
	}
	slices.Sort(out)
	return out
}

// DefaultCalendar returns the embedded calendar.
func DefaultCalendar() *Calendar {
	c, err := ParseCalendar(strings.NewReader(defaultHolidays))
	if err != nil {
		panic("node: embedded holidays.csv: " + err.Error())
	}
	return c
}

// ParseCalendar reads date,kind,name lines, kind "holiday" or "workday".
func ParseCalendar(r io.Reader) (*Calendar, error) {
	c := &Calendar{holidays: map[string]string{}, workdays: map[string]string{}, years: map[int]bool{}}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.SplitN(text, ",", 3)
		if len(parts) < 2 {
			return nil, fmt.Errorf("line %d: want date,kind[,name]", line)
		}
		d, err := time.ParseInLocation("2006-01-02", parts[0], CST)
		if err != nil {
			return nil, fmt.Errorf("line %d: date %q must be YYYY-MM-DD", line, parts[0])
		}
		name := ""
		if len(parts) == 3 {
			name = parts[2]
		}
		weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
		switch parts[1] {
		case "holiday":
			c.holidays[parts[0]] = name
		case "workday":
			if !weekend {
				return nil, fmt.Errorf("line %d: %s is a weekday; only a weekend can be a make-up working day", line, parts[0])
			}
			c.workdays[parts[0]] = name
		default:
			return nil, fmt.Errorf("line %d: kind %q must be holiday or workday", line, parts[1])
		}
		if d.After(c.Last) {
			c.Last = d
		}
		c.years[d.Year()] = true
	}
	return c, sc.Err()
}

// IsWorkday reports whether the date (in China Standard Time) is a working
// day. In a year the calendar does not cover, the statutory holidays are
// still days off.
func (c *Calendar) IsWorkday(t time.Time) bool {
	t = t.In(CST)
	key := t.Format("2006-01-02")
	if _, ok := c.holidays[key]; ok {
		return false
	}
	if _, ok := c.workdays[key]; ok {
		return true
	}
	if _, ok := StatutoryHoliday(t); ok && !c.years[t.Year()] {
		return false
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkdays returns the date n working days after t: the day of t does not
// count, so a step received on a Friday with n=1 is due on Monday.
func (c *Calendar) AddWorkdays(t time.Time, n int) time.Time {
	d, _ := c.AddWorkdaysCertain(t, n)
	return d
}

// AddWorkdaysCertain is AddWorkdays, and also reports whether every day it
// counted lies in a year the calendar covers.
func (c *Calendar) AddWorkdaysCertain(t time.Time, n int) (time.Time, bool) {
	d := StartOfDay(t)
	certain := true
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		certain = certain && c.Covers(d)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d, certain
}

// StartOfDay is midnight of t's date in China Standard Time.
func StartOfDay(t time.Time) time.Time {
	t = t.In(CST)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, CST)
}

// AddMonths counts a period of n months from day d as the civil code does
// (民法典 §201–202): the day of d does not count, and the period ends on the
// day of the n-th month that corresponds to d's day, or on that month's last
// day when it has none: 2025-11-30 plus 3 months is 2026-02-28.
func AddMonths(d time.Time, n int) time.Time {
	d = StartOfDay(d)
	first := time.Date(d.Year(), d.Month()+time.Month(n), 1, 0, 0, 0, 0, CST)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d.Day(), last), 0, 0, 0, 0, CST)
}

// RegisterBy is the last day to register at the new place: three months
// after the suspension (2009 §6), moved to the next working day when it falls
// on a rest day or a public holiday (民法典 §203). It also reports whether the
// calendar covers every day involved.
func (c *Calendar) RegisterBy(suspended time.Time) (time.Time, bool) {
	d := AddMonths(suspended, RegisterWithinMonths)
	certain := c.Covers(d)
	for !c.IsWorkday(d) {
		d = d.AddDate(0, 0, 1)
		certain = certain && c.Covers(d)
	}
	return d, certain
}
