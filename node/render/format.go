package render

import (
	"strconv"
	"unicode"

	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// Label is an enum value's name without its type's prefix, lower case:
// CASE_STATE_COMPLETED → "completed", SCHEME_NCMS → "ncms". Logs, metric
// labels, the CLI and CSV files all use it.
func Label(e protoreflect.Enum) string {
	d := e.Descriptor()
	v := d.Values().ByNumber(e.Number())
	if v == nil {
		return strconv.Itoa(int(e.Number()))
	}
	return strings.ToLower(strings.TrimPrefix(string(v.Name()), upperSnake(string(d.Name()))+"_"))
}

// upperSnake turns CaseState into CASE_STATE.
func upperSnake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// DescribeError writes an error for a person at a terminal: a gRPC status
// as its code and message, and each field violation on its own line.
func DescribeError(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", st.Code(), st.Message())
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			b.Reset()
			fmt.Fprintf(&b, "%s: the request has %d bad field(s):", st.Code(), len(br.GetFieldViolations()))
			for _, v := range br.GetFieldViolations() {
				fmt.Fprintf(&b, "\n  - %s: %s", v.GetField(), v.GetDescription())
			}
		}
	}
	return b.String()
}

// Human writes a duration for an operator: 29d 23h, 5h 3m, 42s.
func Human(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%s%dd %dh", neg, d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%s%dh %dm", neg, d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return neg + d.Round(time.Second).String()
}

func ts(t interface{ AsTime() time.Time }) string {
	return t.AsTime().In(rules.CST).Format("2006-01-02 15:04:05")
}

// FormatCase writes one case in full: where it stands and why, its
// parties, the certificate's figures, the registration window, gap and
// waiting period, the deadlines, and each step with its time and event.
func FormatCase(w io.Writer, c *jiexuv1.Case) {
	tw := NewTable(w)
	p := c.GetPerson()
	fmt.Fprintf(tw, "case\t%s (%s side)\n", c.GetCaseId(), Label(c.GetSide()))
	state := strings.ToUpper(Label(c.GetState()))
	if c.GetOverdue() {
		state += " — OVERDUE: a working-day deadline has passed"
	}
	fmt.Fprintf(tw, "state\t%s\n", state)
	if c.GetNote() != "" {
		fmt.Fprintf(tw, "note\t%s\n", c.GetNote())
	}
	if p.GetIdNumber() != "" {
		fmt.Fprintf(tw, "person\t%s %s\n", p.GetName(), rules.MaskID(p.GetIdNumber()))
	}
	origin := c.GetOriginRegion()
	if d := c.GetOriginDivision(); d != "" && d != origin {
		origin += " (applicant named " + d + ")"
	}
	fmt.Fprintf(tw, "origin\t%s\n", origin)
	fmt.Fprintf(tw, "destination\t%s\n", c.GetDestinationRegion())
	if r := c.GetRoute(); r != "" {
		fmt.Fprintf(tw, "routed\t%s\n", r)
	}
	if c.GetAppliedAtOrigin() {
		fmt.Fprintf(tw, "applied at\tthe origin (2021 rule)\n")
	}
	if c.GetOriginScheme() != 0 || c.GetDestinationScheme() != 0 {
		fmt.Fprintf(tw, "schemes\t%s → %s\n", SchemeName(c.GetOriginScheme()), SchemeName(c.GetDestinationScheme()))
	}
	if c.GetPresentedCertificate() != "" {
		fmt.Fprintf(tw, "presented\tcertificate %s (the applicant's proof, sent to the origin)\n", c.GetPresentedCertificate())
	}
	if c.GetDestinationFrom() != nil {
		fmt.Fprintf(tw, "at the destination\tenrolled from %s, registered %s\n", FmtYM(c.GetDestinationFrom()), FmtDate(c.GetEnrolledOn()))
	}
	if c.GetCertificateNumber() != "" {
		fmt.Fprintf(tw, "certificate\t%s\n", c.GetCertificateNumber())
		fmt.Fprintf(tw, "months paid\t%d (累计实际缴费月数)\n", c.GetMonthsPaid())
	}
	if c.GetExpectedAmountFen() > 0 || c.GetAmountFen() > 0 {
		fmt.Fprintf(tw, "balance\t%s moved (%s owed by the certificate)\n", rules.AmountFigures(c.GetAmountFen()), rules.AmountFigures(c.GetExpectedAmountFen()))
	}
	if c.GetReturnReason() != 0 {
		fmt.Fprintf(tw, "returned\t%s: %s\n", rules.AmountFigures(c.GetReturnedFen()), Label(c.GetReturnReason()))
	}
	if c.GetRegisterBy() != nil {
		inTime := "yes"
		if !c.GetRegisteredInTime() {
			inTime = "NO — not in time (the limit binds a person without a receiving employer, 2009 §6)"
		}
		uncertain := ""
		if c.GetRegisterByUncertain() {
			uncertain = ", or later: that year's holidays are not in this node's calendar"
		}
		fmt.Fprintf(tw, "register by\t%s, 3 months after the suspension%s (in time: %s)\n", FmtDate(c.GetRegisterBy()), uncertain, inTime)
	}
	if c.GetOverlapMonths() > 0 {
		fmt.Fprintf(tw, "overlap\t%s enrolled at both: recognised once\n", rules.MonthsEnglish(int(c.GetOverlapMonths())))
	}
	if c.GetWaitingReason() != "" {
		fmt.Fprintf(tw, "gap\t%s\n", rules.MonthsEnglish(int(c.GetGapMonths())))
		fmt.Fprintf(tw, "waiting period\t%s: %s\n", rules.MonthsEnglish(int(c.GetWaitingMonths())), c.GetWaitingReason())
	}
	for _, d := range []struct {
		name string
		due  *jiexuv1.Date
	}{{"transfer-out due", c.GetTransferOutDue()}, {"transfer-in due", c.GetTransferInDue()}, {"credit due", c.GetCreditDue()}} {
		if d.due != nil {
			fmt.Fprintf(tw, "%s\t%s (working days, 2021 rule)\n", d.name, FmtDate(d.due))
		}
	}
	if c.GetDeadlineUncertain() {
		fmt.Fprintf(tw, "deadlines\tuncertain: a working-day deadline runs past this node's holiday calendar (load next year's with calendar_file)\n")
	}
	if c.GetRejectReason() != 0 {
		fmt.Fprintf(tw, "refused\t%s: %s\n", Label(c.GetRejectReason()), c.GetRejectDetail())
	}
	if c.GetWithdrawDetail() != "" {
		fmt.Fprintf(tw, "withdrawal\t%s\n", c.GetWithdrawDetail())
	}
	if c.GetLastError() != "" {
		fmt.Fprintf(tw, "last error\t%s\n", c.GetLastError())
	}
	for _, s := range c.GetSteps() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(Label(s.GetState())), ts(s.GetAt()), s.GetEvent())
	}
	tw.Flush()
}

// FormatEnrolment writes a person's periods here, oldest first.
func FormatEnrolment(w io.Writer, e *jiexuv1.Enrolment) {
	p := e.GetPerson()
	fmt.Fprintf(w, "%s %s", p.GetName(), rules.MaskID(p.GetIdNumber()))
	if p.GetInsuranceNumber() != "" {
		fmt.Fprintf(w, "  医疗保障编号 %s", p.GetInsuranceNumber())
	}
	fmt.Fprintln(w)
	tw := NewTable(w)
	fmt.Fprintln(tw, "  #\tSTATUS\tSCHEME\tDIVISION\tFROM\tTO\tPAID\tRECOGNISED\tBALANCE\tHELD\tCERTIFICATE")
	for _, pd := range e.GetPeriods() {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", pd.GetNumber(), Label(pd.GetStatus()), Label(pd.GetScheme()),
			pd.GetDivision(), ym(pd.GetEnrolledFrom()), ym(pd.GetEnrolledTo()), pd.GetMonthsPaid(), pd.GetMonthsRecognised(),
			rules.AmountFigures(pd.GetBalanceFen()), rules.AmountFigures(pd.GetHeldFen()), OrDash(pd.GetCertificateNumber()))
	}
	tw.Flush()
	for _, pd := range e.GetPeriods() {
		if pd.GetNote() != "" {
			fmt.Fprintf(w, "  period %d: %s\n", pd.GetNumber(), pd.GetNote())
		}
		if pd.GetSuspendedOn() != nil {
			fmt.Fprintf(w, "  period %d: suspended on %s\n", pd.GetNumber(), FmtDate(pd.GetSuspendedOn()))
		}
	}
}

// FormatEnrolments writes one line per person: the last period.
func FormatEnrolments(w io.Writer, es []*jiexuv1.Enrolment) {
	tw := NewTable(w)
	fmt.Fprintln(tw, "ID\tNAME\tPERIODS\tSTATUS\tSCHEME\tFROM\tTO\tPAID\tBALANCE\tDIVISION")
	for _, e := range es {
		ps := e.GetPeriods()
		if len(ps) == 0 {
			continue
		}
		last := ps[len(ps)-1]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", rules.MaskID(e.GetPerson().GetIdNumber()), e.GetPerson().GetName(),
			len(ps), Label(last.GetStatus()), Label(last.GetScheme()), ym(last.GetEnrolledFrom()), ym(last.GetEnrolledTo()),
			last.GetMonthsPaid()+last.GetMonthsRecognised(), rules.AmountFigures(last.GetBalanceFen()), last.GetDivision())
	}
	tw.Flush()
}

func ym(m *jiexuv1.YearMonth) string {
	if m == nil {
		return "—"
	}
	return fmt.Sprintf("%04d-%02d", m.GetYear(), m.GetMonth())
}

// FormatCases writes a table of cases, one line each.
func FormatCases(w io.Writer, cs []*jiexuv1.Case) {
	tw := NewTable(w)
	fmt.Fprintln(tw, "CASE\tSIDE\tSTATE\tPERSON\tORIGIN\tDEST\tCERTIFICATE\tBALANCE\tUPDATED")
	for _, c := range cs {
		state := strings.ToUpper(Label(c.GetState()))
		if c.GetOverdue() {
			state += " (OVERDUE)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.GetCaseId(), Label(c.GetSide()), state,
			rules.MaskID(c.GetPerson().GetIdNumber()), c.GetOriginRegion(), c.GetDestinationRegion(), OrDash(c.GetCertificateNumber()),
			rules.AmountFigures(c.GetAmountFen()), ts(c.GetUpdatedAt()))
	}
	tw.Flush()
}

// healthHints say what to do about each reason a node is NOT_SERVING
// (node.Health's reasons, matched by prefix).
var healthHints = []struct{ prefix, hint string }{
	{"no registry snapshot", "the registry has not answered (see its last error): check registry_address, that the registry's certificate names that host (its --host at 'jiexu ca issue --registry'), and that the national level ran 'jiexu registry add' and 'jiexu registry sign' for this node"},
	{"registry snapshot expired", "the national level must sign a new snapshot ('jiexu registry sign'; the package's jiexu-registry-sign.timer does it daily) and the registry must be reachable"},
	{"this region is not in the registry", "peers refuse a node the registry does not list: the national level must run 'jiexu registry add --cert cert.pem --address …' and 'jiexu registry sign'; this node fetches the new snapshot within registry_refresh"},
	{"node certificate expired", "send csr.pem to the national CA again, install the answer with 'jiexu node init --bundle FILE' (the node reloads it), and have the national level list it: 'jiexu registry add --cert NEW.pem …' then 'jiexu registry sign'"},
	{"node certificate revoked", "this certificate was revoked: make a new key and request ('jiexu node init' in a new folder) and ask the national CA for a new certificate"},
	{"store not writable: disk full", "free space on the disk that holds data_dir (store_min_free_mib says how much the node wants free); the node serves again by itself"},
	{"store not writable: disk quota", "raise the quota of the node's user on data_dir's filesystem"},
	{"store not writable: read-only filesystem", "the filesystem of data_dir is read-only, perhaps remounted so after I/O errors: check the kernel log (dmesg), then remount it read-write"},
	{"store not writable: I/O error", "the disk is failing: check the kernel log (dmesg) and the disk (smartctl); move to a sound disk with 'jiexu node restore --from' the newest backup"},
	{"store not writable: file size limit", "lift the file-size limit of the node's process (ulimit -f, LimitFSIZE= in its systemd unit)"},
	{"store not writable: store file not writable", "fix the ownership and mode of data_dir and its files, and remove an immutable attribute (lsattr, chattr -i)"},
	{"store not writable", "the node's log has the detail (the line 'node not serving'); check the disk and permissions of data_dir"},
}

// HealthHint says what to do about a NOT_SERVING reason, or "".
func HealthHint(reason string) string {
	for _, h := range healthHints {
		if strings.HasPrefix(reason, h.prefix) {
			return h.hint
		}
	}
	return ""
}

// FormatStatus writes a node's status on one screen.
func FormatStatus(w io.Writer, s *jiexuv1.GetStatusResponse, now time.Time) {
	tw := NewTable(w)
	fmt.Fprintf(tw, "node\t%s %s (jiexu %s)\n", s.GetRegion(), s.GetAgencyName(), s.GetVersion())
	if s.GetServing() {
		fmt.Fprintf(tw, "health\tSERVING\n")
	} else {
		fmt.Fprintf(tw, "health\tNOT_SERVING: %s\n", s.GetHealthReason())
		if hint := HealthHint(s.GetHealthReason()); hint != "" {
			fmt.Fprintf(tw, "\tfix: %s\n", hint)
		}
	}
	if s.GetStoreEpoch() > 0 {
		fmt.Fprintf(tw, "store epoch\t%d\n", s.GetStoreEpoch())
	}
	fetched := "not reached since the node started"
	if s.GetRegistryFetchedAt() != nil {
		fetched = "last answered " + Human(now.Sub(s.GetRegistryFetchedAt().AsTime())) + " ago"
	}
	if s.GetRegistryVersion() == 0 {
		fmt.Fprintf(tw, "registry\tno snapshot yet, %s\n", fetched)
	} else {
		fmt.Fprintf(tw, "registry\tversion %d, expires %s (in %s), %s\n", s.GetRegistryVersion(), ts(s.GetRegistryExpiresAt()),
			Human(s.GetRegistryExpiresAt().AsTime().Sub(now)), fetched)
	}
	if e := s.GetRegistryError(); e != "" {
		fmt.Fprintf(tw, "\tlast error: %s\n", e)
	}
	fmt.Fprintf(tw, "certificate\texpires %s (in %s)\n", ts(s.GetCertificateExpiresAt()), Human(s.GetCertificateExpiresAt().AsTime().Sub(now)))
	fmt.Fprintf(tw, "certificate serial\t%s\n", s.GetCertificateSerial())
	fmt.Fprintf(tw, "people enrolled\t%d\n", s.GetRecords())
	fmt.Fprintf(tw, "overdue cases\t%d as destination, %d as origin\n", s.GetOverdueDestination(), s.GetOverdueOrigin())
	tw.Flush()
	fmt.Fprintln(w, "\nPEER    PENDING  OLDEST   DEAD  LAST ERROR")
	for _, p := range s.GetPeers() {
		age := "-"
		if p.GetOldestPendingAt() != nil {
			age = Human(now.Sub(p.GetOldestPendingAt().AsTime()))
		}
		fmt.Fprintf(w, "%-7s %7d  %-8s %4d  %s\n", p.GetRegion(), p.GetPending(), age, p.GetDead(), p.GetLastError())
	}
	fmt.Fprintln(w, "\nSIDE         STATE              CASES")
	for _, c := range s.GetCases() {
		fmt.Fprintf(w, "%-12s %-18s %5d\n", Label(c.GetSide()), strings.ToUpper(Label(c.GetState())), c.GetCount())
	}
}

// FormatOutbox writes outbox messages or dead letters.
func FormatOutbox(w io.Writer, ms []*jiexuv1.OutboxMessage, now time.Time) {
	tw := NewTable(w)
	fmt.Fprintln(tw, "SEQ\tPEER\tMETHOD\tCASE\tAGE\tATTEMPTS\tLAST ERROR")
	for _, m := range ms {
		method := m.GetMethod()[strings.LastIndex(m.GetMethod(), "/")+1:]
		why := m.GetLastError()
		if m.GetDead() && m.GetDeadReason() != "" {
			why = m.GetDeadReason()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", m.GetSequence(), m.GetPeerRegion(), method, m.GetCaseId(),
			Human(now.Sub(m.GetCreatedAt().AsTime())), m.GetAttempts(), why)
	}
	tw.Flush()
}

// FormatOutboxMessage writes one queued message in full (its sealed payload
// is summarised, not printed: it may hold personal data).
func FormatOutboxMessage(w io.Writer, m *jiexuv1.OutboxMessage, now time.Time) {
	tw := NewTable(w)
	fmt.Fprintf(tw, "sequence\t%d\n", m.GetSequence())
	fmt.Fprintf(tw, "message id\t%s\n", m.GetMessageId())
	fmt.Fprintf(tw, "peer\t%s\n", m.GetPeerRegion())
	fmt.Fprintf(tw, "method\t%s\n", m.GetMethod())
	fmt.Fprintf(tw, "case\t%s\n", m.GetCaseId())
	fmt.Fprintf(tw, "created\t%s (%s ago)\n", ts(m.GetCreatedAt()), Human(now.Sub(m.GetCreatedAt().AsTime())))
	fmt.Fprintf(tw, "attempts\t%d\n", m.GetAttempts())
	if m.GetNextAttemptAt() != nil && !m.GetDead() {
		fmt.Fprintf(tw, "next attempt\t%s\n", ts(m.GetNextAttemptAt()))
	}
	fmt.Fprintf(tw, "dead letter\t%v\n", m.GetDead())
	if m.GetDead() {
		fmt.Fprintf(tw, "why dead\t%s\n", OrDash(m.GetDeadReason()))
		if m.GetDelivered() {
			fmt.Fprintf(tw, "delivered\tyes: the peer has it; a redrive sends it again and applies its acknowledgement here\n")
		}
	}
	fmt.Fprintf(tw, "last error\t%s\n", OrDash(m.GetLastError()))
	if m.GetLastCode() != "" {
		fmt.Fprintf(tw, "last code\t%s\n", m.GetLastCode())
	}
	tw.Flush()
}
