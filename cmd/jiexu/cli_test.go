package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// runCLI runs one command line in process and returns its exit status and
// what it wrote to standard output and standard error.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelpGoesToStdoutWithStatus0(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // on standard output
	}{
		{"root --help", []string{"--help"}, []string{"Usage:", "ca", "registry", "node", "records", "transfer", "completion"}},
		{"root -h", []string{"-h"}, []string{"Usage:"}},
		{"no command", nil, []string{"Usage:", "demo"}},
		{"help command", []string{"help", "transfer"}, []string{"apply", "apply-out", "list"}},
		{"ca alone shows its subcommands", []string{"ca"}, []string{"init", "issue", "csr", "sign", "revoke"}},
		{"registry alone", []string{"registry"}, []string{"add", "sign", "serve", "targets"}},
		{"a command's flags", []string{"transfer", "apply", "--help"}, []string{"--origin", "--id", "--name", "(required)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d, want 0; stderr %q", code, errOut)
			}
			if errOut != "" {
				t.Errorf("stderr %q, want nothing (help goes to stdout)", errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh"} {
		t.Run(shell, func(t *testing.T) {
			code, out, errOut := runCLI(t, "completion", shell)
			if code != 0 || !strings.Contains(out, "jiexu") || len(out) < 1000 {
				t.Errorf("completion %s: exit %d, %d bytes, stderr %q; want a script", shell, code, len(out), errOut)
			}
		})
	}
	// Flags with fixed values complete to them.
	_, out, _ := runCLI(t, "__complete", "transfer", "list", "--side", "")
	if !strings.Contains(out, "destination") || !strings.Contains(out, "origin") {
		t.Errorf("completion of --side: %q", out)
	}
}

func TestErrorsExitWith1Or2AndPrintOnce(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in the error line
	}{
		{"unknown command", []string{"nosuch"}, 2, `unknown command "nosuch"`},
		{"unknown subcommand, with a suggestion", []string{"ca", "sing"}, 2, "did you mean sign"},
		{"mistyped subcommand with its flags", []string{"node", "stauts", "--config", "x.json"}, 2, `unknown command "stauts" for "jiexu node"; did you mean status?`},
		{"group given a flag it lacks", []string{"node", "--config", "x.json"}, 2, "unknown flag: --config"},
		{"unknown flag", []string{"transfer", "list", "--bogus"}, 2, "unknown flag: --bogus"},
		{"missing required flag", []string{"transfer", "apply", "--id", "x"}, 2, "--name is required"},
		{"missing argument", []string{"transfer", "status", "--config", "x.json"}, 2, "expected one case id"},
		{"stray argument", []string{"node", "status", "extra"}, 2, `unexpected argument "extra"`},
		{"bad flag value", []string{"registry", "sign", "--dir", "d", "--ca", "c", "--tls", "t", "--ttl", "soon"}, 2, "--ttl"},
		{"no node named", []string{"transfer", "list"}, 2, "--config FILE"},
		{"bad agency kind", []string{"node", "init", "--dir", "/nonexistent/x", "--region", "150781", "--name", "x", "--kind", "county"}, 2, `--kind: bad agency kind: "county"`},
		{"a failure says what to do", []string{"ca", "issue", "--ca", "/nonexistent", "--region", "150100", "--name", "x", "--out", "/nonexistent/out"}, 1, "jiexu ca init"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JIEXU_CONFIG", "")
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if n := strings.Count(errOut, "jiexu:"); n != 1 {
				t.Errorf("the error is printed %d times, want once:\n%s", n, errOut)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing on an error", out)
			}
		})
	}
}

func TestVersionNamesTheBuild(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(binary, args...).Output()
		if err != nil {
			t.Fatalf("jiexu %v: %v", args, err)
		}
		if s := string(out); !strings.Contains(s, testVersion) || !strings.Contains(s, "commit "+testCommit) {
			t.Errorf("jiexu %v printed %q, want version %s and commit %s (set with -ldflags -X)", args, s, testVersion, testCommit)
		}
	}
}

func TestErrorsNameFlagsNotProtoFields(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "invalid input").WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "record.person.household_head_id_number", Description: "check character is 1, MOD 11-2 gives 3"},
		{Field: "record.person.household_head_name", Description: "required"},
		{Field: "origin_division", Description: "no such division code"},
		{Field: "certificate_number", Description: "certificate number must look like 蒙呼和浩特2025第00042号"},
		{Field: "something.else", Description: "kept as it is"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := describeError(st.Err())
	for _, want := range []string{"--head-id: check character", "--head-name: required", "--origin: no such", "--certificate: certificate number must", "something.else: kept"} {
		if !strings.Contains(got, want) {
			t.Errorf("describeError lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "record.person") {
		t.Errorf("describeError still names proto fields:\n%s", got)
	}
}

// An operator who runs a command against a stopped node, as another user,
// or with a wrong case id is told what to do, not handed gRPC's words.
func TestErrorsSayWhatToDo(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"node not running", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial unix data/agency.sock: connect: no such file or directory"`),
			[]string{"cannot reach the node: dial unix data/agency.sock: connect: no such file", "what to do: start the node"}},
		{"socket of another user", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial unix /run/jiexu/agency.sock: connect: permission denied"`),
			[]string{"permission denied", "sudo -u jiexu"}},
		{"refused by the node's peer-credential check", status.Error(codes.Unavailable, `connection error: desc = "error reading server preface: connection reset by peer"`),
			[]string{"the node closed the connection", "sudo -u jiexu"}},
		{"unknown case", status.Error(codes.NotFound, "not found: case 150700-20261125-000099"),
			[]string{"not found at this node: case 150700-20261125-000099", "jiexu transfer list"}},
		{"unknown certificate", status.Error(codes.NotFound, "not found: certificate 蒙呼和浩特2026第09999号"),
			[]string{"certificate 蒙呼和浩特2026第09999号", "what to do: check the number"}},
		{"nobody enrolled", status.Error(codes.NotFound, "not found: no enrolment for 150102********1234 here"),
			[]string{"jiexu records list"}},
		{"a node's own Unavailable is kept", status.Error(codes.Unavailable, "the node cannot use its store right now; retry later"),
			[]string{"Unavailable: the node cannot use its store right now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describeError(tt.err)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("describeError = %q, lacks %q", got, w)
				}
			}
			if strings.Contains(got, "desc =") || strings.Contains(got, "NotFound: not found") {
				t.Errorf("describeError = %q still has gRPC's wording", got)
			}
		})
	}
}

// The node refuses import rows by their index in the request; the operator
// reads them by the file's line numbers.
func TestImportRefusalsNameFileLines(t *testing.T) {
	st, err := status.New(codes.FailedPrecondition, "records refused").WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "records[0]", Description: "period 1 was transferred out"},
		{Field: "records[2].scheme", Description: "an NCMS office enrols in NCMS only"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := refusedRows("people.csv", st.Err(), []int{2, 3, 7})
	if got == nil {
		t.Fatal("refusedRows = nil, want the rows by line")
	}
	for _, want := range []string{"refused 2 row(s) of people.csv; nothing imported", "people.csv:2: period 1", "people.csv:7: scheme: an NCMS office"} {
		if !strings.Contains(got.Error(), want) {
			t.Errorf("refusedRows = %q, lacks %q", got, want)
		}
	}
	if strings.Contains(got.Error(), "records[") {
		t.Errorf("refusedRows = %q still names request indices", got)
	}
	if refusedRows("people.csv", status.Error(codes.Unavailable, "down"), nil) != nil {
		t.Error("refusedRows took an error without field violations")
	}
}
