package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []uint64, q float64) uint64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestBucketBoundsCoverEveryValue(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketBounds(i)
		if int64(lo) != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d,%d] after %d: gap or overlap", i, lo, hi, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d bounds [%d,%d] map to %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/64+1e-12 {
			t.Fatalf("bucket %d = [%d,%d] wider than 1/64 of its value", i, lo, hi)
		}
		prevHi = int64(hi)
	}
	if bucketOf(maxRecordUS*4) != numBuckets-1 {
		t.Fatalf("values beyond the range must land in the last bucket")
	}
}

func TestHistogramQuantilesMatchExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() uint64{
		"uniform 0-100us": func() uint64 { return rng.Uint64N(100) },
		"uniform 1-50ms":  func() uint64 { return 1000 + rng.Uint64N(49000) },
		"lognormal ~2ms":  func() uint64 { return uint64(math.Exp(rng.NormFloat64()*0.8 + math.Log(2000))) },
		"bimodal with tail": func() uint64 {
			return map[bool]uint64{true: 500 + rng.Uint64N(100), false: 200000 + rng.Uint64N(800000)}[rng.IntN(1000) < 995]
		},
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]uint64, 100000)
			for i := range vals {
				vals[i] = gen()
				h.RecordMicros(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				want := exactQuantile(vals, q)
				got := uint64(h.Quantile(q) / time.Microsecond)
				// Reported value is the bucket's upper bound (capped at
				// max): never below the exact value, at most 1/64 above.
				if got < want || float64(got-want) > float64(want)/64+1 {
					t.Errorf("q%.3f = %d µs, exact %d µs", q, got, want)
				}
			}
			if h.Max() != time.Duration(vals[len(vals)-1])*time.Microsecond || h.Min() != time.Duration(vals[0])*time.Microsecond {
				t.Errorf("min/max = %v/%v, want %d/%d µs", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			if h.Count() != uint64(len(vals)) {
				t.Errorf("count = %d", h.Count())
			}
		})
	}
}

func TestHistogramKnownSmallSet(t *testing.T) {
	var h Histogram
	for i := 1; i <= 100; i++ { // 1..100 ms
		h.Record(time.Duration(i) * time.Millisecond)
	}
	s := h.Summarize()
	near := func(got, want float64) bool { return got >= want && got <= want*(1+1.0/64) }
	if !near(s.P50, 50) || !near(s.P90, 90) || !near(s.P99, 99) || s.P999 != 100 || s.Max != 100 || s.Min != 1 {
		t.Fatalf("summary of 1..100ms = %+v", s)
	}
	if s.Mean != 50.5 {
		t.Fatalf("mean = %v, want 50.5", s.Mean)
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h Histogram
	if s := h.Summarize(); s != (Summary{}) {
		t.Fatalf("empty summary = %+v", s)
	}
	h.Record(-time.Second)
	if h.Count() != 1 || h.Max() != 0 || h.Quantile(0.99) != 0 {
		t.Fatalf("negative duration not clamped to zero: count %d max %v", h.Count(), h.Max())
	}
}

func TestHistogramConcurrentAndMerge(t *testing.T) {
	var a, b Histogram
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				a.RecordMicros(uint64(i))
			}
		}()
	}
	wg.Wait()
	if a.Count() != 8000 || a.Max() != 999*time.Microsecond {
		t.Fatalf("concurrent count/max = %d/%v", a.Count(), a.Max())
	}
	b.RecordMicros(5_000_000)
	b.Merge(&a)
	if b.Count() != 8001 || b.Max() != 5*time.Second || b.Min() != 0 {
		t.Fatalf("merged count/max/min = %d/%v/%v", b.Count(), b.Max(), b.Min())
	}
	if q := b.Quantile(0.5); q < 499*time.Microsecond || q > 510*time.Microsecond {
		t.Fatalf("merged median = %v", q)
	}
}
