package rules

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"
)

//go:embed holidays.csv
var defaultHolidays string

// Calendar is the working-day calendar: weekdays are working days except
// public holidays, and some weekends are working days (调休).
type Calendar struct {
	holidays map[string]string // YYYY-MM-DD → name
	workdays map[string]string
	// Last is the last date the calendar has data for.
	Last time.Time
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
	c := &Calendar{holidays: map[string]string{}, workdays: map[string]string{}}
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
	}
	return c, sc.Err()
}

// IsWorkday reports whether the date (in China Standard Time) is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	key := t.In(CST).Format("2006-01-02")
	if _, ok := c.holidays[key]; ok {
		return false
	}
	if _, ok := c.workdays[key]; ok {
		return true
	}
	wd := t.In(CST).Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkdays returns the date n working days after t: the day of t does not
// count, so a step received on a Friday with n=1 is due on Monday.
func (c *Calendar) AddWorkdays(t time.Time, n int) time.Time {
	d := time.Date(t.In(CST).Year(), t.In(CST).Month(), t.In(CST).Day(), 0, 0, 0, 0, CST)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d
}
