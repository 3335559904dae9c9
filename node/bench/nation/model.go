package nation

import (
	"math/rand/v2"
	"slices"
	"strings"

	"jiexu/node/bench"
	"jiexu/registry"
)

// IntraProvince is the share of moves that stay within a province. The
// 2020 census counted 375.8 million people living away from their
// household registration, 124.8 million of them in another province: one
// in three. Transfers follow people, so two in three stay in the province.
const IntraProvince = 2.0 / 3

// Region is one pooling region of the model with its weights.
type Region struct {
	Code string
	// Counties is the number of county-level divisions it has (1 for a
	// county-level region), Districts how many of them are urban districts (区).
	Counties, Districts int
	// Out is how likely a person who moves comes from here; In how
	// strongly the region attracts people who move.
	Out, In float64
}

// tier1 attract the most; big are the other municipalities, the cities
// separately planned (计划单列) and the manufacturing cities that draw
// migrant workers. Provincial capitals (code XX0100) count as big too.
var (
	tier1 = []string{"110000", "310000", "440100", "440300"}
	big   = []string{"120000", "500000", "210200", "330200", "350200", "370200", "441900", "320500", "440600"}
)

// Model is the origin/destination mix of the national simulation.
//
// A person leaves a region with probability proportional to its size, the
// number of county-level divisions it has plus one: the division table is
// the only measure of population the repository carries, and a county is
// roughly a county's worth of people. The destination is in the same
// province with probability IntraProvince (always in another one for a
// municipality, which is a province of one region), otherwise anywhere
// else in the country; either way chosen in proportion to attraction: one
// plus the urban districts (区) the region has, times 4 for 北京, 上海, 广州 and
// 深圳 and times 2 for the other municipalities, the provincial capitals,
// the cities separately planned and 东莞, 苏州 and 佛山. The result puts
// most moves inside a province and draws the national ones to the big
// cities, as the census shows, without pretending to its precision.
type Model struct {
	Regions []Region
	byProv  map[string][]int // province prefix → region indexes
	outCum  []float64
	inCum   []float64            // over all regions
	provCum map[string][]float64 // per province, over byProv's regions
}

// NewModel weighs the regions (pooling-region codes) of a division table.
func NewModel(t *registry.Table, regions []string) *Model {
	m := &Model{byProv: map[string][]int{}, provCum: map[string][]float64{}}
	for i, code := range regions {
		r := Region{Code: code, Counties: 1}
		if cs := bench.Counties(t, code); len(cs) > 0 {
			r.Counties = len(cs)
			for _, c := range cs {
				if d, err := t.Lookup(c); err == nil && strings.HasSuffix(d.Name, "区") {
					r.Districts++
				}
			}
		}
		r.Out = float64(1 + r.Counties)
		r.In = float64(1 + r.Districts)
		switch {
		case slices.Contains(tier1, code):
			r.In *= 4
		case slices.Contains(big, code) || code[2:] == "0100":
			r.In *= 2
		}
		m.Regions = append(m.Regions, r)
		m.byProv[code[:2]] = append(m.byProv[code[:2]], i)
	}
	m.outCum = cumulative(len(m.Regions), func(i int) float64 { return m.Regions[i].Out })
	m.inCum = cumulative(len(m.Regions), func(i int) float64 { return m.Regions[i].In })
	for p, idx := range m.byProv {
		m.provCum[p] = cumulative(len(idx), func(k int) float64 { return m.Regions[idx[k]].In })
	}
	return m
}

func cumulative(n int, w func(int) float64) []float64 {
	out := make([]float64, n)
	sum := 0.0
	for i := range out {
		sum += w(i)
		out[i] = sum
	}
	return out
}

// pick draws an index from cumulative weights.
func pick(rng *rand.Rand, cum []float64) int {
	x := rng.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	return min(i, len(cum)-1)
}

// Move draws one move: origin and destination region indexes, never equal.
func (m *Model) Move(rng *rand.Rand) (from, to int) {
	from = pick(rng, m.outCum)
	prov := m.Regions[from].Code[:2]
	for {
		if len(m.byProv[prov]) > 1 && rng.Float64() < IntraProvince {
			to = m.byProv[prov][pick(rng, m.provCum[prov])]
		} else {
			to = pick(rng, m.inCum)
			if m.Regions[to].Code[:2] == prov && len(m.byProv[prov]) > 1 {
				continue // a national move leaves the province
			}
		}
		if to != from {
			return from, to
		}
	}
}
