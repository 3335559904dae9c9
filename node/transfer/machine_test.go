package transfer

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./node/transfer -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the tables give now; if the change is intended, run go test ./node/transfer -update and review the diff\n--- got\n%s", path, got)
	}
}

func TestTablesGolden(t *testing.T) {
	var b bytes.Buffer
	WriteTables(&b)
	golden(t, "tables.golden", b.Bytes())
}

// variants are the inputs each event is tried with in the sweep: every
// standing for the events that need one, and the money cases for the others.
func variants(ev Event) map[string]Input {
	v := map[string]Input{}
	switch ev {
	case Apply, Request, ApplyOut, Notice, Suspension, Confirm:
		for _, s := range []Standing{NotEnrolled, NameMismatch, OtherCase, Active, Suspended, Gone} {
			for _, sc := range []jiexuv1.Scheme{employee, jiexuv1.Scheme_SCHEME_RESIDENT, ncms} {
				name := fmt.Sprintf("%s/%s", s, label(sc.String(), "SCHEME_"))
				v[name] = Input{Event: ev, Standing: s, Scheme: sc, Balance: 1000}
				switch ev {
				case Notice:
					v[name+"/proof"] = Input{Event: ev, Standing: s, Scheme: sc, Balance: 1000, Proof: ProofMatches}
					v[name+"/wrong-proof"] = Input{Event: ev, Standing: s, Scheme: sc, Balance: 1000, Proof: ProofWrong}
				case Suspension:
					v[name+"/confirmed"] = Input{Event: ev, Standing: s, Scheme: sc, Balance: 1000, Confirmed: true}
				}
			}
		}
	case Certificate:
		v["owes"] = Input{Event: ev, CertificateScheme: employee, CertificateBalance: 1000, CertificateMonths: 12, EmployeeMonths: 12, Account: true}
		v["owes/no-account"] = Input{Event: ev, CertificateScheme: employee, CertificateBalance: 1000, CertificateMonths: 12, EmployeeMonths: 12}
		v["nothing"] = Input{Event: ev, CertificateScheme: ncms, CertificateMonths: 12, Account: true}
		v["nothing/carries-employee-months"] = Input{Event: ev, CertificateScheme: jiexuv1.Scheme_SCHEME_RESIDENT, CertificateMonths: 12, EmployeeMonths: 30, Account: true}
	case Funds, Confirmation:
		v["1000"] = Input{Event: ev, Amount: 1000, Account: true}
		v["999"] = Input{Event: ev, Amount: 999, Account: true}
		v["1000/no-account"] = Input{Event: ev, Amount: 1000}
	case FundsReturned:
		v["withdrawn"] = Input{Event: ev, Amount: 1000, ReturnReason: returnWithdrawn}
		v["no-account"] = Input{Event: ev, Amount: 1000, ReturnReason: returnNoAccount}
	case Refusal, Refuse:
		v["not-enrolled"] = Input{Event: ev, Reason: reasonNotEnrolled, Detail: "x"}
		v["withdrawn"] = Input{Event: ev, Reason: reasonWithdrawn}
	default:
		v["-"] = Input{Event: ev}
	}
	return v
}

// caseIn makes a case in a state with the flags a case there has, so that
// the sweep tries each state as the tables meet it.
func caseIn(side jiexuv1.CaseSide, s jiexuv1.CaseState) *jiexuv1.Case {
	c := &jiexuv1.Case{CaseId: "150700-20261125-000001", Side: side, State: s, DestinationScheme: employee}
	switch s {
	case certified:
		c.Certified, c.ExpectedAmountFen = true, 1000
	case funded:
		c.Funded, c.AmountFen = true, 1000
	case certificateSent, remitted, closed, returned:
		c.Acted, c.AmountFen, c.ExpectedAmountFen = true, 1000, 1000
	case completed:
		c.Certified, c.Funded, c.AmountFen, c.ExpectedAmountFen = true, true, 1000, 1000
	}
	return c
}

var allEvents = []Event{Apply, Request, NoticeAcked, Certificate, Funds, Refusal, Withdraw, ApplyOut, Notice,
	Suspension, Refuse, WithdrawRequest, CertificateAcked, FundsAcked, Confirmation, FundsReturned, Confirm, Present, Superseded}

// sentinels are the errors a step may fail with.
var sentinels = []error{ErrUnexpected, ErrNotEnrolledHere, ErrNameMismatch, ErrCaseOpen, ErrTooLate, ErrWrongSide, ErrRetry}

// TestEveryStateEveryEvent tries every event, with each of its variants, on
// every state of both sides, and checks what must hold for every row: a
// failed step changes nothing, a case never leaves a terminal state or its
// side's states, money moves only where the measures allow it, and every
// outcome is the one in testdata/outcomes.golden.
func TestEveryStateEveryEvent(t *testing.T) {
	var out strings.Builder
	for _, side := range []jiexuv1.CaseSide{destinationSide, originSide} {
		for _, s := range append([]jiexuv1.CaseState{none}, Sides[side]...) {
			for _, ev := range allEvents {
				vs := variants(ev)
				names := make([]string, 0, len(vs))
				for n := range vs {
					names = append(names, n)
				}
				slices.Sort(names)
				for _, name := range names {
					in := vs[name]
					c := caseIn(side, s)
					before := proto.Clone(c)
					next, effects, err := Step(c, in)
					where := fmt.Sprintf("%s %s on %s [%s]", sideName(side), stateName(s), ev, name)
					if err != nil {
						if !slices.ContainsFunc(sentinels, func(e error) bool { return errors.Is(err, e) }) {
							t.Errorf("%s: error %v wraps no sentinel", where, err)
						}
						if !proto.Equal(c, before) {
							t.Errorf("%s: failed step changed the case", where)
						}
						if errors.Is(err, ErrWrongSide) {
							continue
						}
						fmt.Fprintf(&out, "%-60s fails: %s\n", where, firstSentinel(err))
						continue
					}
					if Terminal(s) && next != s {
						t.Errorf("%s: left terminal state for %s", where, stateName(next))
					}
					if !slices.Contains(Sides[side], next) {
						t.Errorf("%s: reached %s, not a state of this side", where, stateName(next))
					}
					for _, e := range effects {
						checkEffect(t, where, c, s, in, e)
					}
					fx := make([]string, len(effects))
					for i, e := range effects {
						fx[i] = e.String()
					}
					fmt.Fprintf(&out, "%-60s → %-17s %s\n", where, stateName(next), strings.Join(fx, "; "))
				}
			}
		}
	}
	golden(t, "outcomes.golden", []byte(out.String()))
}

func firstSentinel(err error) string {
	for _, e := range sentinels {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// checkEffect holds each effect to the rules of the measures.
func checkEffect(t *testing.T, where string, c *jiexuv1.Case, from jiexuv1.CaseState, in Input, e Effect) {
	t.Helper()
	side := c.GetSide()
	switch e.Kind {
	case TransferOut, EndOnJoining, Restore, HoldReturned, SendCertificate, SendFunds, SendRequest:
		if side != originSide {
			t.Errorf("%s: %s on the destination side", where, e)
		}
	case Hold, Credit, AddMonths, Assess, SendNotice, SendConfirmation, SendWithdrawal, SendReturn:
		if side != destinationSide {
			t.Errorf("%s: %s on the origin side", where, e)
		}
	}
	switch e.Kind {
	case TransferOut, EndOnJoining:
		// The origin acts only on a suspended enrolment, or ends an NCMS
		// participation whose member joined an urban scheme; it never
		// suspends an employee because another agency asked. And it acts
		// only on the applicant's proof or its own operator's word.
		if in.Standing != Suspended && !(in.Standing == Active && EndsOnJoining(in.Scheme, c.GetDestinationScheme())) {
			t.Errorf("%s: %s with standing %s", where, e, in.Standing)
		}
		if in.Proof != ProofMatches && !in.Confirmed && in.Event != Confirm && from != requested {
			t.Errorf("%s: %s without proof or confirmation", where, e)
		}
	case SendFunds:
		if !Owed(e.Amount, in.Scheme, c.GetDestinationScheme()) {
			t.Errorf("%s: remits %d from %v to %v", where, e.Amount, in.Scheme, c.GetDestinationScheme())
		}
	case Credit:
		if !in.Account {
			t.Errorf("%s: credits without an account", where)
		}
	case AddMonths:
		// Only employee-scheme months are recognised, whatever scheme
		// carried them here (2015 §3).
		if e.Months <= 0 || e.Months != in.EmployeeMonths {
			t.Errorf("%s: adds %d months, the certificate carries %d employee months", where, e.Months, in.EmployeeMonths)
		}
	}
	if Terminal(from) {
		switch e.Kind {
		case SendReturn, SendRefusal:
			// Money or a certificate arriving for an ended case goes back.
		default:
			t.Errorf("%s: %s after the case ended", where, e)
		}
	}
}

func TestStepRefusesTheOtherSidesEvents(t *testing.T) {
	c := &jiexuv1.Case{Side: destinationSide, State: notified}
	if _, _, err := Step(c, Input{Event: Notice}); !errors.Is(err, ErrWrongSide) {
		t.Errorf("notice at the destination: %v, want ErrWrongSide", err)
	}
	if _, _, err := Step(&jiexuv1.Case{}, Input{Event: Notice}); !errors.Is(err, ErrWrongSide) {
		t.Errorf("case without a side: %v, want ErrWrongSide", err)
	}
}

// The domain review: an overlap deducted months the origin never paid (a
// period of recognised months only lost one), and employee months carried
// through a resident period were lost.
func TestEmployeeMonths(t *testing.T) {
	for _, tt := range []struct {
		name             string
		scheme           jiexuv1.Scheme
		paid, recognised int32
		overlap          int
		want             int32
	}{
		{"employee, no overlap", employee, 147, 20, 0, 147},
		{"overlap of months paid there", employee, 147, 20, 2, 145},
		{"overlap where the origin paid nothing", employee, 147, 147, 1, 147},
		{"overlap beyond what it paid", employee, 30, 28, 5, 28},
		{"resident carrying employee months", jiexuv1.Scheme_SCHEME_RESIDENT, 24, 82, 3, 82},
		{"NCMS carrying none", ncms, 60, 0, 0, 0},
	} {
		if got := EmployeeMonths(tt.scheme, tt.paid, tt.recognised, tt.overlap); got != tt.want {
			t.Errorf("%s: EmployeeMonths(%v, %d, %d, %d) = %d, want %d", tt.name, tt.scheme, tt.paid, tt.recognised, tt.overlap, got, tt.want)
		}
	}
}

// A case that waited at the origin and ended there (the operator's refusal,
// the applicant's withdrawal, another destination's proof) no longer says it
// is waiting: transfer status showed "waiting for the enrolment at the
// origin to be suspended" under REFUSED.
func TestWaitingNoteEndsWithTheWait(t *testing.T) {
	tests := []struct {
		name string
		from jiexuv1.CaseState
		in   Input
	}{
		{"refused by the operator while waiting for the suspension", waiting, Input{Event: Refuse, Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_SUSPENDED}},
		{"refused by the operator while waiting for confirmation", confirming, Input{Event: Refuse, Reason: jiexuv1.RejectReason_REJECT_REASON_NOT_SUSPENDED}},
		{"withdrawn at the origin while waiting for the suspension", waiting, Input{Event: Withdraw}},
		{"superseded by a proven application", confirming, Input{Event: Superseded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := caseIn(originSide, tt.from)
			c.Note = "转出地尚未中止参保，等待转出地办理中止参保手续 (waiting for the enrolment at the origin to be suspended)"
			next, _, err := Step(c, tt.in)
			if err != nil {
				t.Fatalf("Step: %v", err)
			}
			if !Terminal(next) {
				t.Fatalf("reached %s, want an end state", stateName(next))
			}
			if got := c.GetNote(); got != "" {
				t.Errorf("note after %s = %q, want none", stateName(next), got)
			}
		})
	}
}
