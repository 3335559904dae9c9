package main

import (
	"fmt"
	"io"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"jiexu/node/render"
)

// fieldFlags maps the fields the agency API names in its field violations
// to the flags (or arguments) the operator typed, so that an error says
// "--head-id" rather than "record.person.household_head_id_number". Keys are
// field paths with any leading "record." removed.
var fieldFlags = map[string]string{
	"person.id_number":                "--id",
	"person.name":                     "--name",
	"person.insurance_number":         "--insurance-number",
	"person.household_type":           "--household",
	"person.household_place":          "--place",
	"person.household_head_name":      "--head-name",
	"person.household_head_id_number": "--head-id",
	"scheme":                          "--scheme",
	"division":                        "--division",
	"enrolled_from":                   "--from",
	"months_paid":                     "--months",
	"balance_fen":                     "--balance",
	"gap_back_paid":                   "--gap-back-paid",
	"registered_on":                   "--registered-on",
	"id_number":                       "--id",
	"name":                            "--name",
	"origin_division":                 "--origin",
	"destination_division":            "--destination",
	"issuer_division":                 "--issuer",
	"verification_code":               "--code",
	"last_month":                      "--last-month",
	"suspended_on":                    "--on",
	"reason":                          "--reason",
	"detail":                          "--detail",
	"page_size":                       "--limit",
	"peer_region":                     "--peer",
	"number":                          "the certificate NUMBER",
	"case_id":                         "the CASE_ID",
}

// flagFor names a violated field as the operator typed it, or returns the
// field unchanged when no flag sets it.
func flagFor(field string) string {
	if f, ok := fieldFlags[strings.TrimPrefix(field, "record.")]; ok {
		return f
	}
	return field
}

// describeError words an error for a person at a terminal: a gRPC status
// as its code and message, and each field violation on its own line, named
// by its flag.
func describeError(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d bad value(s); fix them and run the command again:", len(br.GetFieldViolations()))
		for _, v := range br.GetFieldViolations() {
			fmt.Fprintf(&b, "\n  %s: %s", flagFor(v.GetField()), v.GetDescription())
		}
		return b.String()
	}
	return render.DescribeError(err)
}

// rowViolations words the field violations of a refused import as lines of
// the file, "records.csv:12: division: …", as a parse error is worded, and
// reports whether err carried any. lines[i] is the file line of records[i].
func rowViolations(w io.Writer, err error, file string, lines []int) (int, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	n := 0
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			n++
			var i int
			field := v.GetField()
			if k, _ := fmt.Sscanf(field, "records[%d]", &i); k == 1 && i >= 0 && i < len(lines) {
				_, rest, _ := strings.Cut(field, "]")
				if rest = strings.TrimPrefix(rest, "."); rest != "" {
					fmt.Fprintf(w, "%s:%d: %s: %s\n", file, lines[i], rest, v.GetDescription())
				} else {
					fmt.Fprintf(w, "%s:%d: %s\n", file, lines[i], v.GetDescription())
				}
				continue
			}
			fmt.Fprintf(w, "%s: %s: %s\n", file, field, v.GetDescription())
		}
	}
	return n, n > 0
}
