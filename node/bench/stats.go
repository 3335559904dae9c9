package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of samples by the
// nearest-rank method: the smallest sample with at least p% of the samples
// at or below it. It sorts samples in place; it returns 0 for none.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 || p <= 0 {
		return 0
	}
	if !slices.IsSorted(samples) {
		slices.Sort(samples)
	}
	rank := int(math.Ceil(p / 100 * float64(len(samples))))
	rank = min(max(rank, 1), len(samples))
	return samples[rank-1]
}

// Summary is the distribution of one latency, in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Summarize computes a Summary of samples (sorted in place).
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Summary{
		Count: len(samples),
		Mean:  ms(sum / time.Duration(len(samples))),
		P50:   ms(Percentile(samples, 50)),
		P90:   ms(Percentile(samples, 90)),
		P99:   ms(Percentile(samples, 99)),
		Max:   ms(samples[len(samples)-1]),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Bucket is one cumulative bucket of a Prometheus histogram: how many
// observations were at most UpperBound (+Inf for the last).
type Bucket struct {
	UpperBound float64
	Count      float64
}

// SubtractBuckets returns after - before, bucket by bucket: the
// observations made between two scrapes. Both must have the same bounds
// (the same histogram); a bound missing from before counts as zero.
func SubtractBuckets(after, before []Bucket) []Bucket {
	prev := map[float64]float64{}
	for _, b := range before {
		prev[b.UpperBound] = b.Count
	}
	out := make([]Bucket, len(after))
	for i, b := range after {
		out[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count - prev[b.UpperBound]}
	}
	return out
}

// HistogramQuantile estimates the q-quantile (0..1) of a histogram from its
// cumulative buckets the way Prometheus' histogram_quantile does: it finds
// the bucket holding the rank and interpolates linearly inside it (from 0
// for the first bucket). A rank in the +Inf bucket returns the highest
// finite bound. NaN when there are no observations. The answer is only as
// fine as the buckets: between two bounds it is a guess.
func HistogramQuantile(q float64, buckets []Bucket) float64 {
	bs := slices.Clone(buckets)
	slices.SortFunc(bs, func(a, b Bucket) int {
		switch {
		case a.UpperBound < b.UpperBound:
			return -1
		case a.UpperBound > b.UpperBound:
			return 1
		}
		return 0
	})
	if len(bs) == 0 || q < 0 || q > 1 {
		return math.NaN()
	}
	total := bs[len(bs)-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	for i, b := range bs {
		if b.Count < rank {
			continue
		}
		if math.IsInf(b.UpperBound, 1) {
			if i == 0 {
				return math.NaN()
			}
			return bs[i-1].UpperBound
		}
		lower, below := 0.0, 0.0
		if i > 0 {
			lower, below = bs[i-1].UpperBound, bs[i-1].Count
		}
		inBucket := b.Count - below
		if inBucket <= 0 {
			return b.UpperBound
		}
		return lower + (b.UpperBound-lower)*(rank-below)/inBucket
	}
	return bs[len(bs)-1].UpperBound
}
