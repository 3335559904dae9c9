package node

import (
	"testing"
	"time"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestCompareViews(t *testing.T) {
	const id = "150700-20261125-000001"
	origin := func(state jiexuv1.CaseState, amount int64) *jiexuv1.SharedCase {
		return &jiexuv1.SharedCase{CaseId: id, Side: sideOrigin, State: state, AmountFen: amount, Acted: true,
			Ended:             state == jiexuv1.CaseState_CASE_STATE_CLOSED || state == jiexuv1.CaseState_CASE_STATE_REFUSED,
			CertificateNumber: "蒙呼和浩特2026第00001号", MaskedIdNumber: "150125********4032"}
	}
	dest := func(state jiexuv1.CaseState, amount int64) *jiexuv1.SharedCase {
		return &jiexuv1.SharedCase{CaseId: id, Side: sideDestination, State: state, AmountFen: amount, Funded: amount > 0,
			Ended:             state == jiexuv1.CaseState_CASE_STATE_COMPLETED || state == jiexuv1.CaseState_CASE_STATE_REFUSED,
			CertificateNumber: "蒙呼和浩特2026第00001号", MaskedIdNumber: "150125********4032"}
	}
	with := func(c *jiexuv1.SharedCase, f func(*jiexuv1.SharedCase)) *jiexuv1.SharedCase { f(c); return c }
	const (
		closed    = jiexuv1.CaseState_CASE_STATE_CLOSED
		completed = jiexuv1.CaseState_CASE_STATE_COMPLETED
		remitted  = jiexuv1.CaseState_CASE_STATE_REMITTED
		refused   = jiexuv1.CaseState_CASE_STATE_REFUSED
		certified = jiexuv1.CaseState_CASE_STATE_CERTIFIED
	)
	for _, tc := range []struct {
		name     string
		here     *jiexuv1.SharedCase
		peer     *jiexuv1.SharedCase
		want     jiexuv1.DifferenceKind // UNSPECIFIED: none
		inFlight int
	}{
		{"agree", origin(closed, 500), dest(completed, 500), 0, 0},
		{"both open, quiet", origin(remitted, 500), dest(certified, 0), 0, 0},
		{"both refused", origin(refused, 0), dest(refused, 0), 0, 0},
		{"missing here", nil, dest(completed, 500), jiexuv1.DifferenceKind_DIFFERENCE_KIND_MISSING_HERE, 0},
		{"missing at peer", origin(closed, 500), nil, jiexuv1.DifferenceKind_DIFFERENCE_KIND_MISSING_AT_PEER, 0},
		{"missing but in flight", with(origin(remitted, 500), func(c *jiexuv1.SharedCase) { c.PendingMessages = 1 }), nil, 0, 1},
		{"same side", origin(closed, 500), origin(closed, 500), jiexuv1.DifferenceKind_DIFFERENCE_KIND_SAME_SIDE, 0},
		{"closed, destination open", origin(closed, 500), dest(certified, 0), jiexuv1.DifferenceKind_DIFFERENCE_KIND_ENDED_ONE_SIDE, 0},
		{"closed, destination open, confirmation queued", origin(closed, 500), with(dest(certified, 0), func(c *jiexuv1.SharedCase) { c.PendingMessages = 1 }), 0, 1},
		{"closed, destination refused", origin(closed, 500), dest(refused, 0), jiexuv1.DifferenceKind_DIFFERENCE_KIND_ENDED_DIFFERENTLY, 0},
		{"credited twice", origin(closed, 500), dest(completed, 1000), jiexuv1.DifferenceKind_DIFFERENCE_KIND_AMOUNT, 0},
		{"not credited", origin(closed, 500), dest(completed, 0), jiexuv1.DifferenceKind_DIFFERENCE_KIND_AMOUNT, 0},
		{"another certificate", origin(closed, 500), with(dest(completed, 500), func(c *jiexuv1.SharedCase) { c.CertificateNumber = "蒙呼和浩特2026第00002号" }),
			jiexuv1.DifferenceKind_DIFFERENCE_KIND_CERTIFICATE, 0},
		{"dead letter", with(origin(remitted, 500), func(c *jiexuv1.SharedCase) { c.DeadLetters = 1 }), dest(certified, 0), jiexuv1.DifferenceKind_DIFFERENCE_KIND_DEAD_LETTER, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			here, peer := sideView{}, sideView{}
			if tc.here != nil {
				here[id] = tc.here
			}
			if tc.peer != nil {
				peer[id] = tc.peer
			}
			got := compareViews(here, peer)
			var kinds []jiexuv1.DifferenceKind
			for _, d := range got.differences {
				kinds = append(kinds, d.GetKind())
			}
			switch {
			case tc.want == 0 && len(kinds) != 0, tc.want != 0 && (len(kinds) != 1 || kinds[0] != tc.want):
				t.Errorf("differences %v, want %v", kinds, tc.want)
			case got.inFlight != tc.inFlight || got.compared != 1:
				t.Errorf("in flight %d of %d compared, want %d of 1", got.inFlight, got.compared, tc.inFlight)
			}
		})
	}
}

func TestNextDaily(t *testing.T) {
	const at = 2*time.Hour + 30*time.Minute
	for _, tc := range []struct{ now, want string }{
		{"2026-11-25T01:00:00+08:00", "2026-11-25T02:30:00+08:00"},
		{"2026-11-25T02:30:00+08:00", "2026-11-26T02:30:00+08:00"},
		{"2026-11-25T23:00:00Z", "2026-11-27T02:30:00+08:00"}, // 07:00 on the 26th in China
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if got := nextDaily(now, at); !got.Equal(want) {
			t.Errorf("nextDaily(%s) = %s, want %s", tc.now, got, tc.want)
		}
	}
}
