package bench

import (
	"slices"
	"testing"

	"jiexu/registry"
)

func TestPoolingRegions(t *testing.T) {
	t.Parallel()
	tab := registry.DefaultTable()
	got := PoolingRegions(tab)
	// The 2024 table: 333 prefecture-level places, 4 municipalities, 32
	// county-level cities administered by their province (白杨 659012 the
	// newest), 满洲里 and 二连浩特.
	if len(got) != 371 {
		t.Errorf("PoolingRegions: %d regions, want 371", len(got))
	}
	for _, want := range []string{"110000", "500000", "150100", "440300", "419001", "429004", "469001", "659001", "659012", "150781", "152501", "460400"} {
		if !slices.Contains(got, want) {
			t.Errorf("PoolingRegions lacks %s", want)
		}
	}
	for _, not := range []string{"429000", "469000", "710000", "810000", "110100", "150102"} {
		if slices.Contains(got, not) {
			t.Errorf("PoolingRegions has %s, which is not a pooling region", not)
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Error("PoolingRegions is not sorted and unique")
	}
	for _, r := range got {
		if err := tab.CheckPlace(r); err != nil {
			t.Errorf("PoolingRegions: %s: %v", r, err)
		}
	}
}

func TestCounties(t *testing.T) {
	t.Parallel()
	tab := registry.DefaultTable()
	tests := []struct {
		region   string
		min, max int
		has      string
	}{
		{"150100", 5, 15, "150102"},
		{"500000", 30, 45, "500243"}, // 重庆 has counties under 02
		{"110000", 16, 16, "110105"},
		{"150781", 0, 0, ""},
	}
	for _, tt := range tests {
		got := Counties(tab, tt.region)
		if len(got) < tt.min || len(got) > tt.max || tt.has != "" && !slices.Contains(got, tt.has) {
			t.Errorf("Counties(%s) = %d codes %v; want %d..%d including %q", tt.region, len(got), got, tt.min, tt.max, tt.has)
		}
	}
}
