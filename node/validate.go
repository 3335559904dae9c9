package node

import (
	"strings"
	"time"
	"unicode/utf8"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

// validator checks inputs against the division table and today's date; kind
// is the agency kind of the node, whose schemes it accepts (unspecified
// accepts every scheme, as a CSV checked before it reaches a node).
type validator struct {
	table func() *registry.Table // the table in force: the registry snapshot's
	now   func() time.Time
	kind  jiexuv1.AgencyKind
}

func (v validator) today() time.Time { return v.now().In(rules.CST) }

// checkName: 1..50 characters, no control, format or bidi characters, no
// formula prefix (rules.CheckText).
func checkName(vs *violations, field, name string, required bool) {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0 && required:
		vs.add(field, "required")
	case n > 50:
		vs.add(field, "at most 50 characters, got %d", n)
	default:
		checkChars(vs, field, name)
	}
}

func (v validator) checkID(vs *violations, field, id string) {
	if id == "" {
		vs.add(field, "required (18-character citizen ID number, GB 11643-1999)")
		return
	}
	if err := rules.CheckID(id, v.table().ProvinceKnown, v.today()); err != nil {
		vs.add(field, "%v (GB 11643-1999)", err)
	}
}

func (v validator) checkDivision(vs *violations, field, code string) {
	if code == "" {
		vs.add(field, "required (6-digit GB/T 2260 division code)")
		return
	}
	if err := v.table().CheckDivision(code); err != nil {
		vs.add(field, "%v", err)
	}
}

func (v validator) checkYearMonth(vs *violations, field string, ym *jiexuv1.YearMonth, required bool) bool {
	if ym == nil {
		if required {
			vs.add(field, "required (year and month)")
		}
		return false
	}
	today := v.today()
	switch {
	case ym.GetMonth() < 1 || ym.GetMonth() > 12:
		vs.add(field, "month %d must be 1..12", ym.GetMonth())
	case ym.GetYear() < 1950:
		vs.add(field, "year %d is before 1950", ym.GetYear())
	case rules.MonthIndex(ym) > today.Year()*12+int(today.Month())-1:
		vs.add(field, "%04d-%02d is in the future", ym.GetYear(), ym.GetMonth())
	default:
		return true
	}
	return false
}

// checkRecord validates a record under a field prefix such as "record" or
// "records[3]".
func (v validator) checkRecord(vs *violations, prefix string, r *jiexuv1.Record) {
	if r == nil {
		vs.add(prefix, "required")
		return
	}
	p := r.GetPerson()
	checkName(vs, prefix+".person.name", p.GetName(), true)
	v.checkID(vs, prefix+".person.id_number", p.GetIdNumber())
	if n := len(p.GetInsuranceNumber()); n > 32 {
		vs.add(prefix+".person.insurance_number", "at most 32 characters, got %d", n)
	}
	checkChars(vs, prefix+".person.insurance_number", p.GetInsuranceNumber())
	if _, ok := jiexuv1.HouseholdType_name[int32(p.GetHouseholdType())]; !ok || p.GetHouseholdType() == jiexuv1.HouseholdType_HOUSEHOLD_TYPE_UNSPECIFIED {
		vs.add(prefix+".person.household_type", "must be agricultural or non-agricultural")
	}
	if n := utf8.RuneCountInString(p.GetHouseholdPlace()); n > 100 {
		vs.add(prefix+".person.household_place", "at most 100 characters, got %d", n)
	}
	checkChars(vs, prefix+".person.household_place", p.GetHouseholdPlace())
	switch r.GetScheme() {
	case jiexuv1.Scheme_SCHEME_EMPLOYEE, jiexuv1.Scheme_SCHEME_RESIDENT:
		if v.kind == jiexuv1.AgencyKind_AGENCY_KIND_NCMS {
			vs.add(prefix+".scheme", "this node is an NCMS office: it enrols in NCMS only")
		}
		if r.GetScheme() == jiexuv1.Scheme_SCHEME_RESIDENT && r.GetBalanceFen() != 0 {
			vs.add(prefix+".balance_fen", "the resident scheme keeps no personal account: balance must be 0")
		}
	case jiexuv1.Scheme_SCHEME_NCMS:
		if v.kind == jiexuv1.AgencyKind_AGENCY_KIND_INSURANCE {
			vs.add(prefix+".scheme", "this node is an insurance agency: it enrols in the employee or resident scheme, not NCMS")
		}
		// NCMS enrols by household: the head is on the certificate.
		checkName(vs, prefix+".person.household_head_name", p.GetHouseholdHeadName(), true)
		v.checkID(vs, prefix+".person.household_head_id_number", p.GetHouseholdHeadIdNumber())
		if r.GetBalanceFen() != 0 {
			vs.add(prefix+".balance_fen", "NCMS has no personal account: balance must be 0")
		}
	default:
		vs.add(prefix+".scheme", "must be employee, resident or NCMS")
	}
	v.checkDivision(vs, prefix+".division", r.GetDivision())
	fromOK := v.checkYearMonth(vs, prefix+".enrolled_from", r.GetEnrolledFrom(), true)
	toOK := v.checkYearMonth(vs, prefix+".enrolled_to", r.GetEnrolledTo(), false)
	if fromOK && toOK && rules.MonthIndex(r.GetEnrolledTo()) < rules.MonthIndex(r.GetEnrolledFrom()) {
		vs.add(prefix+".enrolled_to", "must not be before enrolled_from")
	}
	if fromOK {
		today := v.today()
		span := today.Year()*12 + int(today.Month()) - rules.MonthIndex(r.GetEnrolledFrom())
		if r.GetMonthsPaid() < 0 || int(r.GetMonthsPaid()) > span {
			vs.add(prefix+".months_paid", "%d must be between 0 and the %d months since enrolled_from", r.GetMonthsPaid(), span)
		}
	}
	if r.GetBalanceFen() < 0 || r.GetBalanceFen() > rules.MaxFen {
		vs.add(prefix+".balance_fen", "%d must be between 0 and %d fen", r.GetBalanceFen(), int64(rules.MaxFen))
	}
	switch r.GetStatus() {
	case jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE:
		if r.GetEnrolledTo() != nil {
			vs.add(prefix+".enrolled_to", "an active enrolment has no last month; give status suspended with it")
		}
		if r.GetSuspendedOn() != nil {
			vs.add(prefix+".suspended_on", "only a suspended enrolment has a day of suspension")
		}
	case jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED:
		if r.GetEnrolledTo() == nil {
			vs.add(prefix+".enrolled_to", "required for a suspended enrolment: its last month (参保止)")
		}
		if r.GetSuspendedOn() == nil {
			vs.add(prefix+".suspended_on", "required for a suspended enrolment: the day of the suspension, from which the 3-month window runs")
		}
		if on := r.GetSuspendedOn(); on != nil && v.checkDate(vs, prefix+".suspended_on", on) && toOK && r.GetEnrolledTo() != nil &&
			rules.MonthIndex(r.GetEnrolledTo()) > int(on.GetYear())*12+int(on.GetMonth())-1 {
			vs.add(prefix+".suspended_on", "must not be before the last month %04d-%02d", r.GetEnrolledTo().GetYear(), r.GetEnrolledTo().GetMonth())
		}
	default:
		vs.add(prefix+".status", "must be active or suspended (transferred-out and ended periods are made by jiexu, not imported)")
	}
	if fromOK && toOK && r.GetEnrolledTo() != nil && int(r.GetMonthsPaid()) > rules.ContinuousMonths(r.GetEnrolledFrom(), r.GetEnrolledTo()) {
		vs.add(prefix+".months_paid", "%d is more than the %d months from enrolled_from to enrolled_to", r.GetMonthsPaid(),
			rules.ContinuousMonths(r.GetEnrolledFrom(), r.GetEnrolledTo()))
	}
	// A registration may come after the first month: a person who
	// back-pays is enrolled from a month before the day of registering.
	if d := r.GetRegisteredOn(); d != nil {
		v.checkDate(vs, prefix+".registered_on", d)
	}
	if b := r.GetBenefitsFrom(); b != nil && fromOK {
		today := v.today()
		switch {
		case b.GetMonth() < 1 || b.GetMonth() > 12:
			vs.add(prefix+".benefits_from", "month %d must be 1..12", b.GetMonth())
		case rules.MonthIndex(b) > today.Year()*12+int(today.Month())-1+rules.MaxWaitingMonths:
			vs.add(prefix+".benefits_from", "%04d-%02d is more than %d months (the longest waiting period) ahead", b.GetYear(), b.GetMonth(), rules.MaxWaitingMonths)
		case rules.MonthIndex(b) < rules.MonthIndex(r.GetEnrolledFrom()):
			vs.add(prefix+".benefits_from", "must not be before enrolled_from: benefits start with the enrolment or after a waiting period")
		case toOK && r.GetEnrolledTo() != nil && rules.MonthIndex(b) > rules.MonthIndex(r.GetEnrolledTo())+1:
			vs.add(prefix+".benefits_from", "must not be after enrolled_to")
		}
	}
}

// checkDate validates a calendar date that is not in the future.
func (v validator) checkDate(vs *violations, field string, d *jiexuv1.Date) bool {
	if d == nil {
		vs.add(field, "required (a date)")
		return false
	}
	t := time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, rules.CST)
	switch {
	case d.GetYear() < 1950 || t.Year() != int(d.GetYear()) || int(t.Month()) != int(d.GetMonth()) || t.Day() != int(d.GetDay()):
		vs.add(field, "%04d-%02d-%02d is not a real date after 1950", d.GetYear(), d.GetMonth(), d.GetDay())
	case t.After(v.today()):
		vs.add(field, "%04d-%02d-%02d is in the future", d.GetYear(), d.GetMonth(), d.GetDay())
	default:
		return true
	}
	return false
}

// checkScheme validates a scheme from another node.
func checkScheme(vs *violations, field string, s jiexuv1.Scheme) {
	switch s {
	case jiexuv1.Scheme_SCHEME_EMPLOYEE, jiexuv1.Scheme_SCHEME_RESIDENT, jiexuv1.Scheme_SCHEME_NCMS:
	default:
		vs.add(field, "must be employee, resident or NCMS")
	}
}

// checkText validates free text: at most max characters, and what
// rules.CheckText refuses (control, format and bidi characters, a formula
// prefix).
func checkText(vs *violations, field, s string, max int) {
	if n := utf8.RuneCountInString(s); n > max {
		vs.add(field, "at most %d characters, got %d", max, n)
		return
	}
	checkChars(vs, field, s)
}

// checkPerson validates the person block of an inter-node message.
func (v validator) checkPerson(vs *violations, prefix string, p *jiexuv1.Person) {
	if p == nil {
		vs.add(prefix, "required")
		return
	}
	checkName(vs, prefix+".name", p.GetName(), true)
	v.checkID(vs, prefix+".id_number", p.GetIdNumber())
	checkChars(vs, prefix+".household_place", p.GetHouseholdPlace())
}

// checkCertRef validates a certificate number and its holder's ID number,
// as a look-up or re-issue names a certificate, and returns the normalized ID.
func (v validator) checkCertRef(vs *violations, number, id string) string {
	if _, err := rules.ParseCertNumber(number); err != nil {
		vs.add("number", "%v", err)
	}
	id = rules.NormalizeID(id)
	v.checkID(vs, "id_number", id)
	return id
}

// checkCode checks a verification code's form: 12 letters and digits.
func checkCode(vs *violations, field, code string) {
	if len(strings.ReplaceAll(strings.TrimSpace(code), "-", "")) != 12 {
		vs.add(field, "the 核验码 printed on the certificate: 12 letters and digits, as XXXX-XXXX-XXXX")
	}
}

// checkPeerDivision checks a division code in a message from another node:
// its form only, since the sender's table may be newer than ours.
func checkPeerDivision(vs *violations, field, code string) {
	if err := registry.CheckCodeSyntax(code); err != nil {
		vs.add(field, "%q: %v", code, err)
	}
}

// checkProof validates the applicant's proof a notice or an application
// carries: a certificate number with its verification code, or a card number.
func checkProof(vs *violations, number, code, card string) {
	if number != "" || code != "" {
		if _, err := rules.ParseCertNumber(number); err != nil {
			vs.add("certificate_number", "%v", err)
		}
		if len(strings.ReplaceAll(code, "-", "")) != 12 {
			vs.add("verification_code", "the 核验码 on the certificate: 12 letters and digits, as XXXX-XXXX-XXXX")
		}
	}
	checkText(vs, "origin_insurance_number", card, 32)
}
