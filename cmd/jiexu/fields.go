package main

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
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
	"certificate_number":              "--certificate",
	"origin_insurance_number":         "--card",
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
	switch {
	case st.Code() == codes.Unavailable && strings.HasPrefix(st.Message(), "connection error"):
		return unreachable(st.Message())
	case st.Code() == codes.NotFound:
		return notFound(st.Message())
	}
	return render.DescribeError(err)
}

// unreachable words a failure to reach the node's agency API (gRPC's
// "connection error: desc = ...") with what to do about it.
func unreachable(msg string) string {
	detail := strings.TrimSuffix(strings.TrimPrefix(msg, `connection error: desc = "`), `"`)
	detail = strings.TrimPrefix(detail, "transport: Error while dialing: ")
	do := "start the node ('systemctl start jiexu-node', or 'jiexu node serve --config FILE'); " +
		"if it runs, check that --config (or --agency) names it"
	switch {
	case strings.Contains(detail, "permission denied"):
		do = "the node's socket answers only the node's user and root: run the command as that user ('sudo -u jiexu jiexu …')"
	case strings.Contains(detail, "preface"), strings.Contains(detail, "connection reset"), strings.Contains(detail, "broken pipe"):
		do = "the node closed the connection: on its socket it answers only its own user and root, so run the command as that user ('sudo -u jiexu jiexu …'); " +
			"over TCP (--agency HOST:PORT) check --operator and that the operator certificate is not revoked"
	}
	return "cannot reach the node: " + detail + "\n  what to do: " + do
}

// notFound words a NotFound answer ("not found: case X") with where to look.
func notFound(msg string) string {
	what := strings.TrimPrefix(msg, "not found: ")
	hint := ""
	switch {
	case strings.HasPrefix(what, "case "):
		hint = "check the case id with 'jiexu transfer list' (a case is listed by the node that holds it: the destination's, or the origin's once it was notified)"
	case strings.HasPrefix(what, "certificate "):
		hint = "check the number on the certificate; 'jiexu records show --id ID' names the certificate of each period this node holds"
	case strings.HasPrefix(what, "no enrolment"):
		hint = "check the ID number; 'jiexu records list' lists the people this node holds, 'jiexu records put' enrols one"
	case strings.HasPrefix(what, "no period"):
		hint = "'jiexu records show --id ID' lists the person's periods by number"
	}
	if hint == "" {
		return "not found: " + what
	}
	return "not found at this node: " + what + "\n  what to do: " + hint
}
