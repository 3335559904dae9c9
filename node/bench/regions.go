package bench

import (
	"slices"

	"jiexu/registry"
)

// OwnPools are county-level cities outside the province-administered
// groups that the measures name as pooling on their own: 满洲里 150781 and
// 二连浩特 152501 (内人社发〔2015〕72号).
var OwnPools = []string{"150781", "152501"}

// notInTheSystem are province-level rows outside the national basic
// medical insurance: 台湾, 香港, 澳门.
var notInTheSystem = []string{"710000", "810000", "820000"}

// municipalities pool at province level: 北京, 天津, 上海, 重庆.
var municipalities = []string{"110000", "120000", "310000", "500000"}

// PoolingRegions lists the pooling regions of a division table, one node
// each, in code order: every prefecture-level place; each municipality
// (北京, 天津, 上海, 重庆) as one region; the county-level cities a province
// administers directly (济源, 仙桃, 五指山, 石河子 …: their parent is the
// province); and OwnPools.
func PoolingRegions(t *registry.Table) []string {
	var out []string
	for _, code := range t.Codes() {
		d, err := t.Lookup(code)
		if err != nil || slices.Contains(notInTheSystem, code[:2]+"0000") {
			continue
		}
		switch d.Level {
		case registry.LevelPrefecture:
			out = append(out, code)
		case registry.LevelProvince:
			if slices.Contains(municipalities, code) {
				out = append(out, code)
			}
		case registry.LevelCounty:
			if p, err := t.Lookup(d.Parent); err == nil && p.Level == registry.LevelProvince && !slices.Contains(municipalities, p.Code) {
				out = append(out, code)
			}
		}
	}
	for _, c := range OwnPools {
		if t.CheckPlace(c) == nil && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Counties returns the county-level divisions under a prefecture-level
// region or a municipality (none for a county-level region).
func Counties(t *registry.Table, region string) []string {
	d, err := t.Lookup(region)
	if err != nil || d.Level == registry.LevelCounty {
		return nil
	}
	var out []string
	for _, code := range t.Codes() {
		if code[:2] != region[:2] {
			continue
		}
		if cd, err := t.Lookup(code); err == nil && cd.Level == registry.LevelCounty && cd.Parent == region {
			out = append(out, code)
		}
	}
	return out
}

// benchRegions picks n regions for a bench: 呼和浩特 and 呼伦贝尔 first (the
// pair of node/devnet's BenchmarkTransfer), then pooling regions in code order.
func benchRegions(t *registry.Table, n int) []string {
	out := []string{"150100", "150700"}
	for _, r := range PoolingRegions(t) {
		if len(out) >= n {
			break
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out[:n]
}
