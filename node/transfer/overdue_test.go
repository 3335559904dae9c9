package transfer

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
	origin := func(s jiexuv1.CaseState) *jiexuv1.Case {
		return &jiexuv1.Case{Side: originSide, State: s, TransferOutDue: due}
	}
	dest := func(s jiexuv1.CaseState) *jiexuv1.Case {
		return &jiexuv1.Case{Side: destinationSide, State: s, TransferOutDue: due, TransferInDue: due}
	}
	tests := []struct {
		name string
		c    *jiexuv1.Case
		now  time.Time
		want bool
	}{
		{"origin waiting, on the due day", origin(waiting), onDay, false},
		{"origin waiting, after the due day", origin(waiting), after, true},
		{"origin sent the certificate in time", origin(certificateSent), after, false},
		{"origin closed", origin(closed), after, false},
		{"destination notified, the origin late", dest(notified), after, true},
		{"destination certified, the balance late", dest(certified), after, true},
		{"destination completed", dest(completed), after, false},
		{"destination withdrawn", dest(withdrawn), after, false},
		{"refused", dest(refused), after, false},
	}
	for _, tt := range tests {
		if got := Overdue(tt.c, tt.now); got != tt.want {
			t.Errorf("%s: Overdue = %v, want %v", tt.name, got, tt.want)
		}
	}
}
