package registry

import (
	"errors"
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
	if _, err := NewRouter(tab, []*jiexuv1.Node{{Region: "429000"}}, AllowUnknownCodes()); !errors.Is(err, ErrNotPlace) {
		t.Errorf("lenient router still refuses grouping rows: %v", err)
	}
}
