package devnet_test

import (
	"context"
	"strings"
	"testing"

	"jiexu/node/devnet"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// An applicant names the district he left by its code at the time, 330103
// 下城区, abolished in 2021 into 330105 拱墅区, which the 330100 node serves.
// The case reaches that node, completes, and says how it was routed.
func TestApplicationNamesAnAbolishedCode(t *testing.T) {
	const hangzhou = "330100"
	tn := startNet(t, devnet.Options{Regions: []string{hangzhou, hohhot}}, hangzhou, hohhot)
	p := tn.firstEmployee(hangzhou, 0)
	c := tn.move(p, hangzhou, "330103", hohhot)
	if c.GetOriginRegion() != hangzhou || c.GetOriginDivision() != "330103" {
		t.Fatalf("case origin %s (division %s), want %s (330103)", c.GetOriginRegion(), c.GetOriginDivision(), hangzhou)
	}
	if want := "330103 (abolished 2021) → 330105 → node 330100"; c.GetRoute() != want {
		t.Errorf("case route %q, want %q", c.GetRoute(), want)
	}
	done := tn.waitState(hohhot, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	e, err := tn.Clients[hohhot].GetEnrolment(context.Background(), &jiexuv1.GetEnrolmentRequest{IdNumber: p.GetPerson().GetIdNumber()})
	if err != nil {
		t.Fatal(err)
	}
	if at := e.GetIdIssuedAt(); !strings.HasPrefix(at, p.GetPerson().GetIdNumber()[:6]+" ") {
		t.Errorf("GetEnrolment id_issued_at %q, want the place of the number's address code", at)
	}
	if done.GetAmountFen() != p.GetBalanceFen() {
		t.Errorf("moved %d fen, want %d", done.GetAmountFen(), p.GetBalanceFen())
	}
	// A code in force, served as named, has no route to tell.
	q := tn.firstEmployee(hangzhou, 1)
	if c := tn.move(q, hangzhou, hangzhou, hohhot); c.GetRoute() != "" {
		t.Errorf("case for a code in force carries route %q", c.GetRoute())
	}
}
