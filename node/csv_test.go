package node

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
	"jiexu/registry"
)

func TestParseRecordsCSVReportsEveryBadRow(t *testing.T) {
	good := makeID("150102", "19850312", "123")
	head := makeID("150781", "19600101", "011")
	file := strings.Join([]string{
		strings.Join(CSVHeader, ","),
		"王伟," + good + ",,non-agricultural,呼和浩特,,,employee,150100,2015-03,100,1024.00",                 // 2: good
		"李娜," + good[:17] + "0,,农业,,,,职工,150100,2015-03,10,1",                                          // 3: bad check char
		"张敏," + makeID("150102", "19900101", "002") + ",,unknown,,,,resident,159999,2015-13,x,12.345",  // 4: five bad fields
		"赵强," + makeID("150781", "19700101", "003") + ",,农业,,,,ncms,150781,2010-01,120,5",              // 5: NCMS without head, with balance
		"孙丽," + makeID("150781", "19700101", "005") + ",,农业,,孙建国," + head + ",新农合,150781,2010-01,120,", // 6: good NCMS
		"钱涛," + good + ",,non-agricultural,,,,employee,150100,2015-03,100,1",                           // 7: duplicate ID
	}, "\n")
	now := func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, rules.CST) }
	res, err := ParseRecordsCSV(strings.NewReader(file), registry.DefaultTable(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 2 || res.BadRows != 4 {
		t.Fatalf("good %d (lines %v), bad %d; want 2 good, 4 bad; errors %v", len(res.Records), res.Lines, res.BadRows, res.Errors)
	}
	if res.Lines[0] != 2 || res.Lines[1] != 6 || res.Records[0].GetBalanceFen() != 102400 {
		t.Errorf("good rows at lines %v, balance %d", res.Lines, res.Records[0].GetBalanceFen())
	}
	want := map[int][]string{
		3: {"id_number"},
		4: {"household_type", "division", "enrolled_from", "months_paid", "balance_yuan"},
		5: {"household_head_name", "household_head_id_number", "balance_fen"},
		7: {"id_number"},
	}
	got := map[int][]string{}
	for _, e := range res.Errors {
		got[e.Line] = append(got[e.Line], e.Field)
		if e.Msg == "" {
			t.Errorf("line %d %s: empty message", e.Line, e.Field)
		}
	}
	for line, fields := range want {
		for _, f := range fields {
			if !strings.Contains(strings.Join(got[line], " "), f) {
				t.Errorf("line %d: no error for %s; got %v", line, f, got[line])
			}
		}
	}
	// The header is checked, and a written file reads back the same.
	if _, err := ParseRecordsCSV(strings.NewReader("name,id\n"), registry.DefaultTable(), now); err == nil || !strings.Contains(err.Error(), "missing column") {
		t.Errorf("bad header: %v", err)
	}
	var buf bytes.Buffer
	if err := WriteRecordsCSV(&buf, res.Records); err != nil {
		t.Fatal(err)
	}
	back, err := ParseRecordsCSV(&buf, registry.DefaultTable(), now)
	if err != nil || len(back.Records) != 2 || back.BadRows != 0 {
		t.Fatalf("round trip: %v, %d good, %d bad %v", err, len(back.Records), back.BadRows, back.Errors)
	}
	if back.Records[1].GetScheme() != jiexuv1.Scheme_SCHEME_NCMS || back.Records[1].GetPerson().GetHouseholdHeadIdNumber() != head {
		t.Errorf("round trip lost NCMS fields: %v", back.Records[1])
	}
}

// makeID builds a valid ID number from its parts.
func makeID(addr, birth, seq string) string {
	s := addr + birth + seq
	return s + string(rules.IDCheckChar(s))
}

// The optional columns carry a suspension: status, the last month and the
// day; a file without them still reads, and their values are checked.
func TestParseRecordsCSVSuspensions(t *testing.T) {
	header := strings.Join(append(append([]string{}, CSVHeader...), CSVOptional...), ",")
	good := makeID("150102", "19850312", "123")
	other := makeID("150102", "19850312", "125")
	third := makeID("150102", "19850312", "127")
	now := func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, rules.CST) }
	file := header + "\n" +
		"王伟," + good + ",,非农业,,,,employee,150102,2015-03,100,10.5,suspended,2026-06,2026-07-03,,no\n" +
		"李娜," + other + ",,非农业,,,,employee,150102,2015-03,100,10.5,paused,2026-06,2026-13-03,,maybe\n" +
		"张敏," + third + ",,非农业,,,,employee,150102,2015-03,200,10.5,suspended,2026-06,,,\n"
	res, err := ParseRecordsCSV(strings.NewReader(file), registry.DefaultTable(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 1 || res.Records[0].GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_SUSPENDED ||
		res.Records[0].GetSuspendedOn().GetDay() != 3 || res.Records[0].GetEnrolledTo().GetMonth() != 6 {
		t.Fatalf("good suspended row: %+v", res.Records)
	}
	fields := map[string]bool{}
	for _, e := range res.Errors {
		fields[fmt.Sprintf("%d:%s", e.Line, e.Field)] = true
	}
	for _, want := range []string{"3:status", "3:suspended_on", "3:gap_back_paid", "4:months_paid"} {
		if !fields[want] {
			t.Errorf("no error at %s; got %v", want, res.Errors)
		}
	}
	// A file of the previous layout, without the optional columns, reads as before.
	old := strings.Join(CSVHeader, ",") + "\n王伟," + good + ",,非农业,,,,employee,150102,2015-03,100,10.5\n"
	res, err = ParseRecordsCSV(strings.NewReader(old), registry.DefaultTable(), now)
	if err != nil || len(res.Records) != 1 || res.Records[0].GetStatus() != jiexuv1.EnrolmentStatus_ENROLMENT_STATUS_ACTIVE || len(res.Errors) != 0 {
		t.Fatalf("previous layout: %+v %v %v", res.Records, res.Errors, err)
	}
}
