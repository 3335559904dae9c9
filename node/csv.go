package node

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"jiexu/node/render"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// CSVHeader is the column order of an enrolment-records CSV file.
var CSVHeader = []string{
	"name", "id_number", "insurance_number", "household_type", "household_place",
	"household_head_name", "household_head_id_number", "scheme", "division",
	"enrolled_from", "months_paid", "balance_yuan",
}

// CSVOptional are the columns a file may add: a suspended period's status
// (active or suspended, 中止), its last month (enrolled_to, 参保止) and day of
// suspension, the day of registration, whether a gap before enrolled_from
// was back-paid (yes/no), and the first month of benefits (待遇享受起).
var CSVOptional = []string{"status", "enrolled_to", "suspended_on", "registered_on", "gap_back_paid", "benefits_from"}

// RowError is one problem in one CSV row.
type RowError struct {
	Line  int    // 1-based line in the file
	Field string // column name
	Msg   string
}

// CSVResult is a parsed file: the good rows, and every problem of the bad ones.
type CSVResult struct {
	Records []*jiexuv1.Record
	Lines   []int // Lines[i] is the file line of Records[i]
	Errors  []RowError
	BadRows int
}

// ParseRecordsCSV reads and validates an enrolment-records CSV (CSVHeader
// columns, a header line first). Every bad row is reported with its line and
// field; a bad row is never half-imported.
func ParseRecordsCSV(r io.Reader, table *registry.Table, now func() time.Time) (*CSVResult, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	for _, h := range CSVHeader {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("header: missing column %q; want %s", h, strings.Join(CSVHeader, ","))
		}
	}
	v := validator{table: func() *registry.Table { return table }, now: now}
	res := &CSVResult{}
	seen := map[string]int{}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			res.Errors = append(res.Errors, RowError{Line: line, Field: "row", Msg: err.Error()})
			res.BadRows++
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		var errs []RowError
		bad := func(field, format string, args ...any) {
			errs = append(errs, RowError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		rec := &jiexuv1.Record{
			Person: &jiexuv1.Person{
				Name:                  get("name"),
				IdNumber:              rules.NormalizeID(get("id_number")),
				InsuranceNumber:       get("insurance_number"),
				HouseholdPlace:        get("household_place"),
				HouseholdHeadName:     get("household_head_name"),
				HouseholdHeadIdNumber: rules.NormalizeID(get("household_head_id_number")),
			},
			Division: get("division"),
			Status:   jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE,
		}
		if ht, err := rules.ParseHouseholdType(get("household_type")); err == nil {
			rec.Person.HouseholdType = ht
		} else {
			bad("household_type", "%v", err)
		}
		if sc, err := rules.ParseScheme(get("scheme")); err == nil {
			rec.Scheme = sc
		} else {
			bad("scheme", "%v", err)
		}
		if ym, err := rules.ParseYearMonth(get("enrolled_from")); err == nil {
			rec.EnrolledFrom = ym
		} else {
			bad("enrolled_from", "%q %v", get("enrolled_from"), err)
		}
		if m, err := strconv.Atoi(get("months_paid")); err == nil {
			rec.MonthsPaid = int32(m)
		} else {
			bad("months_paid", "%q must be a whole number", get("months_paid"))
		}
		if b := get("balance_yuan"); b != "" {
			if fen, err := rules.ParseYuan(b); err == nil {
				rec.BalanceFen = fen
			} else {
				bad("balance_yuan", "%q: %v", b, err)
			}
		}
		switch st := strings.ToLower(get("status")); st {
		case "", "active", "参保", "正常":
			if get("enrolled_to") != "" {
				rec.Status = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED
			}
		case "suspended", "中止", "中止参保":
			rec.Status = jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED
		default:
			bad("status", "%q must be active or suspended (中止)", st)
		}
		if b := get("benefits_from"); b != "" {
			if ym, err := rules.ParseYearMonth(b); err == nil {
				rec.BenefitsFrom = ym
			} else {
				bad("benefits_from", "%q %v", b, err)
			}
		}
		if to := get("enrolled_to"); to != "" {
			if ym, err := rules.ParseYearMonth(to); err == nil {
				rec.EnrolledTo = ym
			} else {
				bad("enrolled_to", "%q %v", to, err)
			}
		}
		for _, d := range []struct {
			col string
			set func(*jiexuv1.Date)
		}{{"suspended_on", func(d *jiexuv1.Date) { rec.SuspendedOn = d }}, {"registered_on", func(d *jiexuv1.Date) { rec.RegisteredOn = d }}} {
			if text := get(d.col); text != "" {
				if t, err := time.ParseInLocation(time.DateOnly, text, rules.CST); err == nil {
					d.set(rules.DateOf(t))
				} else {
					bad(d.col, "%q must be YYYY-MM-DD", text)
				}
			}
		}
		switch bp := strings.ToLower(get("gap_back_paid")); bp {
		case "", "no", "false", "否":
		case "yes", "true", "是", "已补缴":
			rec.GapBackPaid = true
		default:
			bad("gap_back_paid", "%q must be yes or no", bp)
		}
		// The domain checks run too, except on fields that did not parse.
		unparsed := map[string]bool{}
		for _, e := range errs {
			unparsed[e.Field] = true
		}
		unparsed["balance_fen"] = unparsed["balance_yuan"]
		var vs violations
		v.checkRecord(&vs, "", rec)
		for _, fv := range vs.list {
			field := fv.GetField()
			field = field[strings.LastIndex(field, ".")+1:]
			if !unparsed[field] {
				bad(field, "%s", fv.GetDescription())
			}
		}
		if id := rec.GetPerson().GetIdNumber(); id != "" {
			if first, dup := seen[id]; dup {
				bad("id_number", "same ID number as line %d", first)
			} else {
				seen[id] = line
			}
		}
		if len(errs) > 0 {
			res.Errors = append(res.Errors, errs...)
			res.BadRows++
			continue
		}
		res.Records = append(res.Records, rec)
		res.Lines = append(res.Lines, line)
	}
	return res, nil
}

// WriteRecordsCSV writes records in the CSVHeader format with the
// CSVOptional columns.
func WriteRecordsCSV(w io.Writer, rs []*jiexuv1.Record) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append(slices.Clone(CSVHeader), CSVOptional...)); err != nil {
		return err
	}
	date := func(d *jiexuv1.Date) string {
		if d == nil {
			return ""
		}
		return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
	}
	month := func(m *jiexuv1.YearMonth) string {
		if m == nil {
			return ""
		}
		return fmt.Sprintf("%04d-%02d", m.GetYear(), m.GetMonth())
	}
	for _, r := range rs {
		p := r.GetPerson()
		ht := strings.ReplaceAll(render.Label(p.GetHouseholdType()), "_", "-")
		scheme := render.Label(r.GetScheme())
		from := fmt.Sprintf("%04d-%02d", r.GetEnrolledFrom().GetYear(), r.GetEnrolledFrom().GetMonth())
		yuan := strings.TrimPrefix(strings.ReplaceAll(rules.AmountFigures(r.GetBalanceFen()), ",", ""), "￥")
		status, to := "active", ""
		if r.GetStatus() == jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED {
			status = "suspended"
			to = fmt.Sprintf("%04d-%02d", r.GetEnrolledTo().GetYear(), r.GetEnrolledTo().GetMonth())
		}
		backPaid := "no"
		if r.GetGapBackPaid() {
			backPaid = "yes"
		}
		if err := cw.Write([]string{p.GetName(), p.GetIdNumber(), p.GetInsuranceNumber(), ht, p.GetHouseholdPlace(),
			p.GetHouseholdHeadName(), p.GetHouseholdHeadIdNumber(), scheme, r.GetDivision(), from,
			strconv.Itoa(int(r.GetMonthsPaid())), yuan, status, to, date(r.GetSuspendedOn()), date(r.GetRegisteredOn()), backPaid, month(r.GetBenefitsFrom())}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
