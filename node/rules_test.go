package node

import (
	"testing"
	"time"

	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

func TestOverdue(t *testing.T) {
	due := &jiexuv1.Date{Year: 2026, Month: 11, Day: 30}
	onDay := time.Date(2026, 11, 30, 23, 0, 0, 0, rules.CST)
	after := time.Date(2026, 12, 1, 0, 0, 1, 0, rules.CST)
	tests := []struct {
		name string
		c    *jiexuv1.Case
		now  time.Time
		want bool
	}{
		{"origin on the due day", &jiexuv1.Case{Side: jiexuv1.CaseSide_CASE_SIDE_ORIGIN, State: jiexuv1.CaseState_CASE_STATE_SUSPENDED, TransferOutDue: due}, onDay, false},
		{"origin after the due day", &jiexuv1.Case{Side: jiexuv1.CaseSide_CASE_SIDE_ORIGIN, State: jiexuv1.CaseState_CASE_STATE_SUSPENDED, TransferOutDue: due}, after, true},
		{"origin remitted in time", &jiexuv1.Case{Side: jiexuv1.CaseSide_CASE_SIDE_ORIGIN, State: jiexuv1.CaseState_CASE_STATE_REMITTED, TransferOutDue: due}, after, false},
		{"origin sent certificate, nothing owed", &jiexuv1.Case{Side: jiexuv1.CaseSide_CASE_SIDE_ORIGIN, State: jiexuv1.CaseState_CASE_STATE_CERTIFICATE_SENT, TransferOutDue: due}, after, false},
		{"destination certified, not completed", &jiexuv1.Case{Side: jiexuv1.CaseSide_CASE_SIDE_DESTINATION, State: jiexuv1.CaseState_CASE_STATE_CERTIFIED, TransferInDue: due}, after, true},
		{"destination completed", &jiexuv1.Case{Side: jiexuv1.CaseSide_CASE_SIDE_DESTINATION, State: jiexuv1.CaseState_CASE_STATE_COMPLETED, TransferInDue: due}, after, false},
		{"rejected", &jiexuv1.Case{Side: jiexuv1.CaseSide_CASE_SIDE_DESTINATION, State: jiexuv1.CaseState_CASE_STATE_REJECTED, TransferInDue: due}, after, false},
	}
	for _, tt := range tests {
		if got := Overdue(tt.c, tt.now); got != tt.want {
			t.Errorf("%s: Overdue = %v, want %v", tt.name, got, tt.want)
		}
	}
}
