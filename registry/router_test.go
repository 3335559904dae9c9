package registry

import (
	"errors"
	"strings"
	"testing"

	jiexuv1 "jiexu/proto/jiexu/v1"
)

func nodes(regions ...string) []*jiexuv1.Node {
	var out []*jiexuv1.Node
	for _, r := range regions {
		out = append(out, &jiexuv1.Node{Region: r, AgencyName: "agency " + r})
	}
	return out
}

func TestResolve(t *testing.T) {
	tab := DefaultTable()
	tests := []struct {
		name    string
		nodes   []*jiexuv1.Node
		code    string
		want    string
		wantErr error
	}{
		{"county with own node", nodes("150700", "150781"), "150781", "150781", nil},
		{"county falls back to prefecture", nodes("150700"), "150781", "150700", nil},
		{"sibling county goes to prefecture", nodes("150700", "150781"), "150702", "150700", nil},
		{"prefecture itself", nodes("150700"), "150700", "150700", nil},
		{"falls back to province", nodes("150000"), "150781", "150000", nil},
		{"municipality district", nodes("110000"), "110105", "110000", nil},
		{"chongqing 02 county", nodes("500000"), "500229", "500000", nil},
		{"province-administered city own node", nodes("420000", "429004"), "429004", "429004", nil},
		{"province-administered city to province", nodes("420000"), "429004", "420000", nil},
		{"prefecture without counties", nodes("441900"), "441900", "441900", nil},
		{"served list", []*jiexuv1.Node{{Region: "150700", Serves: []string{"152500"}}}, "152501", "150700", nil},
		{"unserved", nodes("150700"), "110105", "", ErrUnserved},
		{"unknown code", nodes("150700"), "159999", "", ErrUnknownDivision},
		{"malformed", nodes("150700"), "15o781", "", ErrMalformedCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRouter(tab, tt.nodes)
			if err != nil {
				t.Fatalf("NewRouter: %v", err)
			}
			n, err := r.Resolve(tt.code)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve(%s) error = %v, want %v", tt.code, err, tt.wantErr)
				}
				return
			}
			if err != nil || n.GetRegion() != tt.want {
				t.Fatalf("Resolve(%s) = %v, %v; want %s", tt.code, n.GetRegion(), err, tt.want)
			}
		})
	}
}

func TestNewRouterRefuses(t *testing.T) {
	tab := DefaultTable()
	for _, tt := range []struct {
		name  string
		nodes []*jiexuv1.Node
		want  error
	}{
		{"duplicate region", nodes("150700", "150700"), ErrDuplicateNode},
		{"served twice", []*jiexuv1.Node{{Region: "150700", Serves: []string{"150781"}}, {Region: "150781"}}, ErrDuplicateNode},
		{"unknown region", nodes("159999"), ErrUnknownDivision},
		{"grouping row region", nodes("429000"), ErrNotPlace},
		{"重庆 districts grouping row", nodes("500100"), ErrNotPlace},
		{"abolished region", nodes("330103"), ErrNotPlace},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRouter(tab, tt.nodes); !errors.Is(err, tt.want) {
				t.Fatalf("NewRouter error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLenientRouterAcceptsNewerCodes(t *testing.T) {
	tab := DefaultTable()
	nodes := []*jiexuv1.Node{{Region: "150700"}, {Region: "150799"}} // 150799: created after the table
	if _, err := NewRouter(tab, nodes); !errors.Is(err, ErrUnknownDivision) {
		t.Fatalf("strict router: %v, want ErrUnknownDivision", err)
	}
	r, err := NewRouter(tab, nodes, AllowUnknownCodes())
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{"150799": "150799", "150781": "150700"} {
		if n, err := r.Resolve(code); err != nil || n.GetRegion() != want {
			t.Errorf("Resolve(%s) = %v, %v; want %s", code, n.GetRegion(), err, want)
		}
	}
	if _, err := r.Resolve("150798"); !errors.Is(err, ErrUnknownDivision) {
		t.Errorf("unknown and unserved: %v", err)
	}
	for _, code := range []string{"429000", "469000", "500100", "500200"} {
		if _, err := NewRouter(tab, []*jiexuv1.Node{{Region: code}}, AllowUnknownCodes()); !errors.Is(err, ErrNotPlace) {
			t.Errorf("lenient router accepts grouping row %s: %v", code, err)
		}
	}
}

func TestRouteThroughChange(t *testing.T) {
	tab := DefaultTable()
	tests := []struct {
		name    string
		nodes   []*jiexuv1.Node
		code    string
		want    string // Route.String()
		wantErr error
	}{
		{"in force", nodes("150700"), "150781", "150781 → node 150700", nil},
		{"abolished, successor served by its prefecture", nodes("330100"), "330103", "330103 (abolished 2021) → 330105 → node 330100", nil},
		{"abolished county of a former prefecture", nodes("411600"), "412723", "412723 (abolished 2000) → 411623 → node 411600", nil},
		{"横县 → 横州市", nodes("450100"), "450127", "450127 (abolished 2021) → 450181 → node 450100", nil},
		{"municipality", nodes("110000"), "110221", "110221 (abolished 1999) → 110114 → node 110000", nil},
		{"split, one node", nodes("130400"), "130421",
			"130421 (abolished 2016; split into 130402, 130403, all served by one node) → 130402 → node 130400", nil},
		{"split between nodes", nodes("130402", "130403"), "130421", "", ErrSplitDivision},
		{"decided", []*jiexuv1.Node{{Region: "130402"}, {Region: "130403"}}, "130421", "", nil}, // see below
		{"inferred prefecture", nodes("130400"), "132100",
			"132100 (abolished 1993, successor inferred from its counties) → 130400 → node 130400", nil},
		{"successor unserved", nodes("150700"), "330103", "", ErrUnserved},
		{"grouping row", nodes("500000"), "500100", "", ErrNotPlace},
		{"unknown", nodes("150700"), "159999", "", ErrUnknownDivision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRouter(tab, tt.nodes)
			if err != nil {
				t.Fatal(err)
			}
			rt, err := r.Route(tt.code)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Route(%s) = %v, %v; want %v", tt.code, rt, err, tt.wantErr)
				}
				return
			}
			if tt.want == "" {
				return
			}
			if err != nil || rt.String() != tt.want {
				t.Fatalf("Route(%s) = %q, %v\nwant %q", tt.code, rt, err, tt.want)
			}
		})
	}
	r, _ := NewRouter(tab, nodes("130402", "130403"))
	_, err := r.Route("130421")
	if err == nil || !strings.Contains(err.Error(), "130402, 130403") || !strings.Contains(err.Error(), "registry decide") {
		t.Errorf("split error %v does not list the candidates and the way out", err)
	}
	decided := []*jiexuv1.SuccessorDecision{{Code: "130421", Successor: "130403"}}
	r, err = NewRouter(tab, nodes("130402", "130403"), WithDecisions(decided))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := r.Route("130421")
	want := "130421 (abolished 2016; split into 130402, 130403; the registry routes it to 130403) → 130403 → node 130403"
	if err != nil || rt.String() != want || !rt.Decided {
		t.Errorf("decided Route = %q, %v; want %q", rt, err, want)
	}
}

func TestDecisionsRefused(t *testing.T) {
	tab := DefaultTable()
	for _, tt := range []struct {
		name string
		d    *jiexuv1.SuccessorDecision
	}{
		{"not a successor", &jiexuv1.SuccessorDecision{Code: "130421", Successor: "130404"}},
		{"code in force", &jiexuv1.SuccessorDecision{Code: "130402", Successor: "130402"}},
		{"unknown code", &jiexuv1.SuccessorDecision{Code: "159999", Successor: "150100"}},
		{"malformed", &jiexuv1.SuccessorDecision{Code: "13042", Successor: "130402"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRouter(tab, nodes("130400"), WithDecisions([]*jiexuv1.SuccessorDecision{tt.d})); !errors.Is(err, ErrBadDecision) {
				t.Fatalf("NewRouter = %v, want ErrBadDecision", err)
			}
		})
	}
}

func TestFormerRegions(t *testing.T) {
	tab := DefaultTable()
	moved := &jiexuv1.Node{Region: "330112", FormerRegions: []string{"330185"}}
	r, err := NewRouter(tab, []*jiexuv1.Node{moved, {Region: "330100"}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := r.Route("330185")
	if err != nil || rt.Node.GetRegion() != "330112" || !rt.Former || rt.String() != "330185 (former region of node 330112) → node 330112" {
		t.Errorf("Route(330185) = %q, %v", rt, err)
	}
	if n, err := r.Node("330185"); err != nil || n.GetRegion() != "330112" {
		t.Errorf("Node(330185) = %v, %v; want the moved node", n.GetRegion(), err)
	}
	for a, want := range map[string]string{"330185": "330112", "330112": "330112", "330100": "330100", "999999": "999999"} {
		if got := r.Canonical(a); got != want {
			t.Errorf("Canonical(%s) = %s, want %s", a, got, want)
		}
	}
	if !r.SameNode("330185", "330112") || r.SameNode("330185", "330100") {
		t.Error("SameNode does not see a node and its former region as one")
	}
	// Certificates numbered under the old code still find their issuer.
	if n, err := r.CertIssuer("浙", "临安"); err != nil || n.GetRegion() != "330112" {
		t.Errorf("CertIssuer(浙临安) = %v, %v", n.GetRegion(), err)
	}

	for _, tt := range []struct {
		name  string
		nodes []*jiexuv1.Node
		want  error
	}{
		{"former is another's region", []*jiexuv1.Node{{Region: "330112", FormerRegions: []string{"330100"}}, {Region: "330100"}}, ErrDuplicateNode},
		{"former claimed twice", []*jiexuv1.Node{{Region: "330112", FormerRegions: []string{"330185"}}, {Region: "330111", FormerRegions: []string{"330185"}}}, ErrDuplicateNode},
		{"former unknown", []*jiexuv1.Node{{Region: "330112", FormerRegions: []string{"339999"}}}, ErrUnknownDivision},
		{"former grouping row", []*jiexuv1.Node{{Region: "500000", FormerRegions: []string{"500100"}}}, ErrNotPlace},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRouter(tab, tt.nodes); !errors.Is(err, tt.want) {
				t.Fatalf("NewRouter = %v, want %v", err, tt.want)
			}
		})
	}
}
