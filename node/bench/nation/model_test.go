package nation

import (
	"math"
	"math/rand/v2"
	"testing"

	"jiexu/node/bench"
	"jiexu/registry"
)

func TestModelMoves(t *testing.T) {
	t.Parallel()
	tab := registry.DefaultTable()
	m := NewModel(tab, bench.PoolingRegions(tab))
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 50_000
	intra := 0
	in := make([]int, len(m.Regions))
	for range n {
		from, to := m.Move(rng)
		if from == to {
			t.Fatalf("Move gave %s → itself", m.Regions[from].Code)
		}
		fc, tc := m.Regions[from].Code, m.Regions[to].Code
		if fc[:2] == tc[:2] {
			intra++
			if len(m.byProv[fc[:2]]) == 1 {
				t.Fatalf("Move %s → %s stays in a province of one region", fc, tc)
			}
		}
		in[to]++
	}
	// Municipalities move only out of their province, so the share within
	// a province is a little under IntraProvince.
	if share := float64(intra) / n; share < IntraProvince-0.08 || share > IntraProvince {
		t.Errorf("share within a province = %.3f, want a little under %.3f", share, IntraProvince)
	}
	idx := func(code string) int {
		for i, r := range m.Regions {
			if r.Code == code {
				return i
			}
		}
		t.Fatalf("no region %s", code)
		return -1
	}
	// 深圳 (tier 1) draws more than 呼伦贝尔 (an ordinary prefecture), which
	// draws more than 二连浩特 (a county-level city).
	sz, hl, el := in[idx("440300")], in[idx("150700")], in[idx("152501")]
	if !(sz > 5*hl && hl > el) {
		t.Errorf("arrivals 深圳 %d, 呼伦贝尔 %d, 二连浩特 %d; want 深圳 ≫ 呼伦贝尔 > 二连浩特", sz, hl, el)
	}
}

func TestModelWeights(t *testing.T) {
	t.Parallel()
	tab := registry.DefaultTable()
	m := NewModel(tab, []string{"110000", "150100", "150781", "440300", "150700"})
	want := map[string]struct{ out, in float64 }{
		"110000": {1 + 16, (1 + 16) * 4}, // 16 districts, tier 1
		"150781": {2, 1},                 // a county-level city: no districts
	}
	for _, r := range m.Regions {
		w, ok := want[r.Code]
		if !ok {
			continue
		}
		if math.Abs(r.Out-w.out) > 1e-9 || math.Abs(r.In-w.in) > 1e-9 {
			t.Errorf("%s: out %g in %g, want out %g in %g", r.Code, r.Out, r.In, w.out, w.in)
		}
	}
	for _, r := range m.Regions {
		if r.Code == "150100" && r.In != float64(1+r.Districts)*2 {
			t.Errorf("呼和浩特 (a capital): in %g, want twice 1+%d districts", r.In, r.Districts)
		}
	}
}
