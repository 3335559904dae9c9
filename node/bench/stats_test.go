package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(5, 1, 3), 50, 3 * time.Millisecond},
		{"median of even is the lower middle", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 99, 99 * time.Millisecond},
		{"p99 of 1000 is the 990th", ms(seq(1000)...), 99, 990 * time.Millisecond},
		{"p100 is the max", ms(3, 9, 1), 100, 9 * time.Millisecond},
		{"p90 of 10 is the 9th", ms(seq(10)...), 90, 9 * time.Millisecond},
		{"p1 of 10 is the first", ms(seq(10)...), 1, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("Percentile(p%g) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

// seq returns 1..n shuffled by a fixed stride, so sorting matters.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (i*7919)%n + 1
	}
	return out
}

func TestSummarize(t *testing.T) {
	s := Summarize([]time.Duration{4 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond})
	want := Summary{Count: 4, Mean: 2.5, P50: 2, P90: 4, P99: 4, Max: 4}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", got)
	}
}

func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(1)
	// 10 observations ≤ 0.01, 80 in (0.01, 0.05], 10 in (0.05, 0.1], none beyond.
	h := []Bucket{{0.01, 10}, {0.05, 90}, {0.1, 100}, {inf, 100}}
	tests := []struct {
		name    string
		q       float64
		buckets []Bucket
		want    float64
	}{
		{"median interpolated in the second bucket", 0.5, h, 0.01 + 0.04*(50-10)/80},
		{"first bucket starts at zero", 0.05, h, 0.01 * 5 / 10},
		{"p99 in the third bucket", 0.99, h, 0.05 + 0.05*(99-90)/10},
		{"rank in +Inf returns the highest finite bound", 0.99, []Bucket{{0.01, 10}, {0.05, 50}, {inf, 100}}, 0.05},
		{"unsorted input", 0.5, []Bucket{{inf, 100}, {0.1, 100}, {0.01, 10}, {0.05, 90}}, 0.01 + 0.04*(50-10)/80},
		{"no observations", 0.5, []Bucket{{0.01, 0}, {inf, 0}}, math.NaN()},
		{"no buckets", 0.5, nil, math.NaN()},
		{"q out of range", 1.5, h, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HistogramQuantile(tt.q, tt.buckets)
			if math.IsNaN(tt.want) != math.IsNaN(got) || !math.IsNaN(got) && math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("HistogramQuantile(%g) = %g, want %g", tt.q, got, tt.want)
			}
		})
	}
}

func TestSubtractAndAddBuckets(t *testing.T) {
	inf := math.Inf(1)
	before := []Bucket{{0.01, 5}, {0.1, 7}, {inf, 8}}
	after := []Bucket{{0.01, 15}, {0.1, 27}, {inf, 30}}
	got := SubtractBuckets(after, before)
	want := []Bucket{{0.01, 10}, {0.1, 20}, {inf, 22}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("SubtractBuckets[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	sum := addBuckets(addBuckets(nil, got), got)
	for i := range want {
		if sum[i].Count != 2*want[i].Count {
			t.Errorf("addBuckets[%d] = %+v, want count %g", i, sum[i], 2*want[i].Count)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %g, want %g", tt.in, got, tt.want)
		}
	}
}
