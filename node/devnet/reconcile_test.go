package devnet_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"jiexu/node"
	"jiexu/node/devnet"
	"jiexu/node/rules"
	jiexuv1 "jiexu/proto/jiexu/v1"
)

// transferDone moves the first employee with a balance from origin to
// dest and waits until both sides have ended the case.
func (tn *testNet) transferDone(origin, dest string, skip int) *jiexuv1.Case {
	tn.t.Helper()
	p := tn.firstEmployee(origin, skip)
	c := tn.move(p, origin, origin, dest)
	done := tn.waitState(dest, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_COMPLETED)
	tn.waitState(origin, c.GetCaseId(), jiexuv1.CaseState_CASE_STATE_CLOSED)
	return done
}

// reconcile asks region's node to reconcile today's cases with peer.
func (tn *testNet) reconcile(region, peer string) *jiexuv1.ReconcileResponse {
	tn.t.Helper()
	today := rules.DateOf(time.Now())
	resp, err := tn.Clients[region].Reconcile(context.Background(), &jiexuv1.ReconcileRequest{Peer: peer, OpenedFrom: today, OpenedTo: today})
	if err != nil {
		tn.t.Fatalf("Reconcile(%s with %s): %v", region, peer, err)
	}
	return resp
}

// fieldsOf lists the fields a status's BadRequest names.
func fieldsOf(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func TestListSharedCasesValidation(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot)
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	client := jiexuv1.NewReconcileServiceClient(bt.conn)
	today := rules.DateOf(time.Now())
	tomorrow := rules.DateOf(time.Now().AddDate(0, 0, 1))
	yearAgo := rules.DateOf(time.Now().AddDate(-1, 0, -2))
	for _, tc := range []struct {
		name  string
		req   *jiexuv1.ListSharedCasesRequest
		field string
	}{
		{"no range", &jiexuv1.ListSharedCasesRequest{}, "opened_from"},
		{"future day", &jiexuv1.ListSharedCasesRequest{OpenedFrom: tomorrow}, "opened_from"},
		{"not a date", &jiexuv1.ListSharedCasesRequest{OpenedFrom: &jiexuv1.Date{Year: 2026, Month: 2, Day: 30}}, "opened_from"},
		{"end before start", &jiexuv1.ListSharedCasesRequest{OpenedFrom: today, OpenedTo: rules.DateOf(time.Now().AddDate(0, 0, -1))}, "opened_to"},
		{"range too long", &jiexuv1.ListSharedCasesRequest{OpenedFrom: yearAgo}, "opened_to"},
		{"negative page", &jiexuv1.ListSharedCasesRequest{OpenedFrom: today, PageSize: -1}, "page_size"},
		{"page too large", &jiexuv1.ListSharedCasesRequest{OpenedFrom: today, PageSize: 501}, "page_size"},
		{"short key", &jiexuv1.ListSharedCasesRequest{OpenedFrom: today, IdKey: []byte("short")}, "id_key"},
		{"bad token", &jiexuv1.ListSharedCasesRequest{OpenedFrom: today, PageToken: []byte("xyz")}, "page_token"},
		{"bad case id", &jiexuv1.ListSharedCasesRequest{CaseIds: []string{"150100-x"}}, "case_ids"},
		{"ids and a range", &jiexuv1.ListSharedCasesRequest{CaseIds: []string{"150100-20261125-000001"}, OpenedFrom: today}, "case_ids"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.ListSharedCases(context.Background(), tc.req)
			if status.Code(err) != codes.InvalidArgument || !slices.Contains(fieldsOf(err), tc.field) {
				t.Errorf("ListSharedCases = %v (fields %v); want InvalidArgument naming %s", err, fieldsOf(err), tc.field)
			}
		})
	}
}

// A peer is told only of the cases it shares: asking by range or by id
// about another region's cases gets nothing of them.
func TestListSharedCasesAnswersOnlyTheCallersCases(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	other := tn.transferDone(hohhot, hulunbuir, 0)

	// 包头 (not running) opens a case at 呼和浩特 with a notice of its own.
	bt := dialAs(t, tn, baotou, layoutOf(t, tn.Layout, baotou).Dir, hohhot)
	person := tn.firstEmployee(hohhot, 1)
	tn.suspend(hohhot, person)
	ours := baotou + "-" + time.Now().In(rules.CST).Format("20060102") + "-000001"
	req := notice(bt, hohhot, ours, "rec-1", person.GetPerson())
	withProof(req, tn.proof(hohhot, person))
	bt.seal(t, req)
	if _, err := jiexuv1.NewTransferServiceClient(bt.conn).NotifyTransfer(context.Background(), req); err != nil {
		t.Fatalf("NotifyTransfer from 包头: %v", err)
	}

	client := jiexuv1.NewReconcileServiceClient(bt.conn)
	key := []byte("0123456789abcdef")
	today := rules.DateOf(time.Now())
	for _, tc := range []struct {
		name string
		req  *jiexuv1.ListSharedCasesRequest
	}{
		{"by range", &jiexuv1.ListSharedCasesRequest{OpenedFrom: today, IdKey: key}},
		{"by id", &jiexuv1.ListSharedCasesRequest{CaseIds: []string{other.GetCaseId(), ours}, IdKey: key}},
		{"by range, with certificates", &jiexuv1.ListSharedCasesRequest{OpenedFrom: today, IdKey: key, WithCertificates: true}},
		{"by id, with certificates", &jiexuv1.ListSharedCasesRequest{CaseIds: []string{other.GetCaseId(), ours}, IdKey: key, WithCertificates: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.ListSharedCases(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.GetCases()) != 1 || resp.GetCases()[0].GetCaseId() != ours {
				t.Fatalf("cases = %v; want only %s (never %s, shared with 呼伦贝尔)", resp.GetCases(), ours, other.GetCaseId())
			}
			got := resp.GetCases()[0]
			id := person.GetPerson().GetIdNumber()
			if got.GetSide() != jiexuv1.CaseSide_CASE_SIDE_ORIGIN || got.GetMaskedIdNumber() != rules.MaskID(id) || len(got.GetIdHash()) != 32 {
				t.Errorf("case = %v; want the origin side, %s and a keyed hash", got, rules.MaskID(id))
			}
			// Beyond the certificate (which the destination was delivered,
			// whole), the answer carries the person masked or keyed.
			bare := proto.CloneOf(got)
			bare.Certificate = nil
			if strings.Contains(prototext.Format(bare), id) {
				t.Errorf("the answer carries the whole ID number: %v", bare)
			}
			// The certificate goes to the case's destination, asked for, and
			// only its own: never 呼伦贝尔's.
			switch sealed := got.GetCertificate(); {
			case !tc.req.GetWithCertificates() && sealed != nil:
				t.Errorf("a certificate came unasked: %v", sealed)
			case tc.req.GetWithCertificates() && sealed == nil:
				t.Errorf("no certificate for %s, which 呼和浩特 acted on; want the one it sealed", ours)
			case sealed != nil:
				cert := &jiexuv1.Certificate{}
				if err := proto.Unmarshal(sealed.GetCertificate(), cert); err != nil || cert.GetNumber() != got.GetCertificateNumber() || cert.GetPerson().GetIdNumber() != id {
					t.Errorf("the certificate is %s for %s (%v); want %s for %s", cert.GetNumber(), rules.MaskID(cert.GetPerson().GetIdNumber()), err, got.GetCertificateNumber(), rules.MaskID(id))
				}
			}
			if got.GetPendingMessages() == 0 || resp.GetPendingToYou() == 0 {
				t.Errorf("pending = %d (to you %d); want the certificate queued to 包头 counted", got.GetPendingMessages(), resp.GetPendingToYou())
			}
		})
	}
}

// Two nodes that agree report no difference; a difference planted in one
// store (the destination credited twice what the origin remitted) is
// found, on both sides.
func TestReconcileFindsAPlantedDifference(t *testing.T) {
	tn := startNet(t, devnet.Options{}, hohhot, hulunbuir)
	for _, r := range []string{hohhot, hulunbuir} { // a short second look
		tn.StopNode(r)
		if err := tn.StartNode(r, node.WithReconcileRecheck(50*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	done := tn.transferDone(hohhot, hulunbuir, 0)
	tn.transferDone(hohhot, hulunbuir, 1)
	if done.GetAmountFen() == 0 {
		t.Fatalf("case %s moved no balance; the test needs one", done.GetCaseId())
	}

	// Pages of one: every case once, then no token.
	hl := dialAs(t, tn, hulunbuir, layoutOf(t, tn.Layout, hulunbuir).Dir, hohhot)
	req := &jiexuv1.ListSharedCasesRequest{OpenedFrom: rules.DateOf(time.Now()), PageSize: 1}
	var paged []string
	for range 5 {
		resp, err := jiexuv1.NewReconcileServiceClient(hl.conn).ListSharedCases(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetCases() {
			paged = append(paged, c.GetCaseId())
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == nil {
			break
		}
	}
	if len(paged) != 2 || paged[0] == paged[1] || req.PageToken != nil {
		t.Fatalf("pages of one gave %v (token %x); want the two cases once each, then no token", paged, req.PageToken)
	}

	clean := tn.reconcile(hohhot, hulunbuir)
	if len(clean.GetDifferences()) != 0 || clean.GetCompared() < 2 {
		t.Fatalf("clean reconciliation: compared %d, differences %v; want ≥ 2 and none", clean.GetCompared(), clean.GetDifferences())
	}

	tn.StopNode(hulunbuir)
	path := filepath.Join(layoutOf(t, tn.Layout, hulunbuir).Dir, "data", node.DBFile)
	plantCase(t, path, done.GetCaseId(), func(c *jiexuv1.Case) { c.AmountFen *= 2 })
	if err := tn.StartNode(hulunbuir, node.WithReconcileRecheck(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct{ here, peer string }{{hohhot, hulunbuir}, {hulunbuir, hohhot}} {
		got := tn.reconcile(side.here, side.peer)
		if len(got.GetDifferences()) != 1 {
			t.Fatalf("%s with %s: differences %v; want one", side.here, side.peer, got.GetDifferences())
		}
		d := got.GetDifferences()[0]
		if d.GetCaseId() != done.GetCaseId() || d.GetKind() != jiexuv1.DifferenceKind_DIFFERENCE_KIND_AMOUNT || !strings.Contains(d.GetDetail(), "twice") {
			t.Errorf("%s with %s: difference %v; want the amount of %s, credited twice", side.here, side.peer, d, done.GetCaseId())
		}
	}
}

// plantCase changes a stored case in a stopped node's store.
func plantCase(t *testing.T, path, id string, change func(*jiexuv1.Case)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("node.cases"))
		c := &jiexuv1.Case{}
		if err := proto.Unmarshal(b.Get([]byte(id)), c); err != nil {
			return err
		}
		change(c)
		data, err := proto.Marshal(c)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), data)
	})
	if err != nil {
		t.Fatal(err)
	}
}
