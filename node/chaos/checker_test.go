package chaos

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"jiexu/node"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

const (
	alice = "150102199001011234"
	bob   = "150102199202022345"
)

// sound is two nodes after one completed transfer of alice (1000 fen) from
// 150100 to 150700 and one certificate each for alice and bob.
func sound() *Outcome {
	dest := jiexuv1.CaseSide_CASE_SIDE_DESTINATION
	origin := jiexuv1.CaseSide_CASE_SIDE_ORIGIN
	person := func(id string) *jiexuv1.Person { return &jiexuv1.Person{IdNumber: id} }
	period := func(balance, held int64) *jiexuv1.Period { return &jiexuv1.Period{BalanceFen: balance, HeldFen: held} }
	cert := func(id string, serial uint32) *jiexuv1.Certificate {
		return &jiexuv1.Certificate{Number: "蒙呼和浩特2026第0000" + string(rune('0'+serial)) + "号", Year: 2026, Serial: serial, OriginRegion: "150100", Person: person(id)}
	}
	return &Outcome{
		Drained:  true,
		Baseline: map[string]int64{alice: 1000, bob: 500},
		Stores: map[string]*node.StoreDump{
			"150100": {
				Enrolments: []*jiexuv1.Enrolment{
					{Person: person(alice), Periods: []*jiexuv1.Period{period(0, 0)}},
					{Person: person(bob), Periods: []*jiexuv1.Period{period(500, 0)}},
				},
				Cases:        []*jiexuv1.Case{{CaseId: "c1", Side: origin, State: jiexuv1.CaseState_CASE_STATE_CLOSED, Person: person(alice), OriginRegion: "150100", DestinationRegion: "150700"}},
				Certificates: []*jiexuv1.Certificate{cert(alice, 1), cert(bob, 2)},
				Counters:     map[string]uint64{"cert/2026": 2},
			},
			"150700": {
				Enrolments: []*jiexuv1.Enrolment{{Person: person(alice), Periods: []*jiexuv1.Period{period(1000, 0)}}},
				Cases:      []*jiexuv1.Case{{CaseId: "c1", Side: dest, State: jiexuv1.CaseState_CASE_STATE_COMPLETED, Person: person(alice), OriginRegion: "150100", DestinationRegion: "150700", AmountFen: 1000}},
			},
		},
	}
}

// The checker passes a sound network and catches each kind of breakage.
func TestInvariantsCatchEachBreakage(t *testing.T) {
	remit := func(amount int64) *jiexuv1.OutboxMessage {
		payload, _ := proto.Marshal(&jiexuv1.RemitRequest{IdNumber: alice, AmountFen: amount})
		return &jiexuv1.OutboxMessage{Method: jiexuv1.RemittanceService_Remit_FullMethodName, CaseId: "c1", PeerRegion: "150700", Payload: payload}
	}
	tests := []struct {
		name   string
		mutate func(o *Outcome)
		want   string // the invariant reported; "" for none
	}{
		{"sound", func(*Outcome) {}, ""},
		{"credited twice", func(o *Outcome) { o.Stores["150700"].Enrolments[0].Periods[0].BalanceFen = 2000 }, "money-per-person"},
		{"balance reappears at the origin", func(o *Outcome) { o.Stores["150100"].Enrolments[0].Periods[0].HeldFen = 1000 }, "money-per-person"},
		{"remittance in flight counts", func(o *Outcome) {
			o.Stores["150700"].Enrolments[0].Periods[0].BalanceFen = 0
			o.Stores["150100"].Dead = []*jiexuv1.OutboxMessage{func() *jiexuv1.OutboxMessage {
				m := remit(1000)
				m.Dead, m.DeadReason = true, "refused for good"
				return m
			}()}
		}, ""},
		{"funded case holds", func(o *Outcome) {
			o.Stores["150700"].Enrolments[0].Periods[0].BalanceFen = 0
			o.Stores["150700"].Cases[0].State = jiexuv1.CaseState_CASE_STATE_FUNDED
		}, "case-ends-once"}, // money is right, but the case has not ended
		{"serial skipped", func(o *Outcome) { o.Stores["150100"].Certificates[1].Serial = 3 }, "serials"},
		{"serial gap of a restore", func(o *Outcome) {
			o.Stores["150100"].Certificates[1].Serial = 3
			o.Stores["150100"].Counters["cert/2026"] = 3
			o.Stores["150100"].Identity = &jiexuv1.StoreIdentity{Restores: []*jiexuv1.RestoreRecord{{Jumps: []*jiexuv1.CounterJump{{Name: "cert/2026", From: 1, To: 2}}}}}
		}, ""},
		{"serial repeated", func(o *Outcome) { o.Stores["150100"].Certificates[1].Serial = 1 }, "serials"},
		{"number held by two people", func(o *Outcome) {
			o.Stores["150700"].Certificates = []*jiexuv1.Certificate{proto.Clone(o.Stores["150100"].Certificates[1]).(*jiexuv1.Certificate)}
			o.Stores["150700"].Certificates[0].Person.IdNumber = alice
		}, "serials"},
		{"counter behind", func(o *Outcome) { o.Stores["150100"].Counters["cert/2026"] = 1 }, "serials"},
		{"one side only", func(o *Outcome) { o.Stores["150100"].Cases = nil }, "case-ends-once"},
		{"ended differently", func(o *Outcome) { o.Stores["150100"].Cases[0].State = jiexuv1.CaseState_CASE_STATE_REFUSED }, "case-ends-once"},
		{"outbox not empty", func(o *Outcome) {
			o.Stores["150700"].Pending = []*jiexuv1.OutboxMessage{{Method: jiexuv1.RemittanceService_ConfirmRemittance_FullMethodName, CaseId: "c1", PeerRegion: "150100"}}
		}, "outbox"},
		{"dead letter without a reason", func(o *Outcome) {
			o.Stores["150700"].Dead = []*jiexuv1.OutboxMessage{{Dead: true, Method: jiexuv1.RemittanceService_ConfirmRemittance_FullMethodName, CaseId: "c1"}}
		}, "outbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sound()
			tt.mutate(o)
			vs := Invariants{}.Check(o)
			var got []string
			for _, v := range vs {
				got = append(got, v.String())
			}
			switch {
			case tt.want == "" && len(vs) > 0:
				t.Errorf("violations %v, want none", got)
			case tt.want != "" && !strings.Contains(strings.Join(got, "\n"), tt.want+":"):
				t.Errorf("violations %v, want one of %s", got, tt.want)
			}
		})
	}
}
