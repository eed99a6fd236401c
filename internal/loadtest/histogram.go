// Package loadtest is the load generator behind `coworkctl emit load`: a
// cheap Socket.IO client (websocket and long-polling), the traffic drivers
// (room broadcasts through the staff endpoint, hold→release churn) and the
// accounting of latency, loss, connect times and errors.
package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations with microsecond resolution in log-linear
// buckets: exact below 128 µs, then 64 buckets per power of two, so any
// reported percentile is within 1/64 (1.6%) of a recorded value. Record is
// lock-free and safe for concurrent use; memory is fixed (~14 KB), so
// millions of samples cost nothing extra.
type Histogram struct {
	buckets [numBuckets]atomic.Uint64
	count   atomic.Uint64
	sumUS   atomic.Uint64
	minUS   atomic.Uint64 // stored +1 so that zero means "no sample"
	maxUS   atomic.Uint64
}

const (
	subBits     = 7
	subCount    = 1 << subBits // exact values below this
	halfCount   = subCount / 2 // buckets per power of two above it
	maxShift    = 36           // values up to ~2^43 µs (≈ 100 days)
	numBuckets  = subCount + maxShift*halfCount
	maxRecordUS = uint64(1)<<(subBits+maxShift) - 1
)

// bucketOf maps a value in µs to its bucket index.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v > maxRecordUS {
		v = maxRecordUS
	}
	shift := bits.Len64(v) - subBits // ≥ 1
	top := v >> uint(shift)          // in [64, 127]
	return subCount + (shift-1)*halfCount + int(top-halfCount)
}

// bucketBounds returns the smallest and largest value of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	shift := uint((i-subCount)/halfCount + 1)
	top := uint64((i-subCount)%halfCount + halfCount)
	return top << shift, (top+1)<<shift - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.RecordMicros(us)
}

// RecordMicros adds one value in microseconds.
func (h *Histogram) RecordMicros(us uint64) {
	h.buckets[bucketOf(us)].Add(1)
	h.count.Add(1)
	h.sumUS.Add(us)
	for {
		cur := h.maxUS.Load()
		if us <= cur || h.maxUS.CompareAndSwap(cur, us) {
			break
		}
	}
	for {
		cur := h.minUS.Load()
		if (cur != 0 && us+1 >= cur) || h.minUS.CompareAndSwap(cur, us+1) {
			break
		}
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Max returns the largest recorded value (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.maxUS.Load()) * time.Microsecond }

// Min returns the smallest recorded value (exact), zero when empty.
func (h *Histogram) Min() time.Duration {
	m := h.minUS.Load()
	if m == 0 {
		return 0
	}
	return time.Duration(m-1) * time.Microsecond
}

// Mean returns the arithmetic mean, zero when empty.
func (h *Histogram) Mean() time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sumUS.Load()/n) * time.Microsecond
}

// Quantile returns the nearest-rank q-quantile (0 < q ≤ 1): the smallest
// recorded value such that at least q of all values are ≤ it, reported as
// the upper bound of its bucket and never above the exact maximum. It is
// zero when the histogram is empty. Concurrent Records may or may not be
// included.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return h.Min()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			_, hi := bucketBounds(i)
			if max := h.maxUS.Load(); hi > max {
				hi = max
			}
			return time.Duration(hi) * time.Microsecond
		}
	}
	return h.Max()
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.buckets {
		if c := o.buckets[i].Load(); c != 0 {
			h.buckets[i].Add(c)
		}
	}
	if o.count.Load() == 0 {
		return
	}
	h.count.Add(o.count.Load())
	h.sumUS.Add(o.sumUS.Load())
	h.RecordExtremes(o.Min(), o.Max())
}

// RecordExtremes widens min and max without adding a sample (Merge).
func (h *Histogram) RecordExtremes(lo, hi time.Duration) {
	l, u := uint64(lo/time.Microsecond), uint64(hi/time.Microsecond)
	for {
		cur := h.maxUS.Load()
		if u <= cur || h.maxUS.CompareAndSwap(cur, u) {
			break
		}
	}
	for {
		cur := h.minUS.Load()
		if (cur != 0 && l+1 >= cur) || h.minUS.CompareAndSwap(cur, l+1) {
			break
		}
	}
}

// Summary is a histogram's figures in milliseconds, as reports print them.
type Summary struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// Summarize returns h's figures.
func (h *Histogram) Summarize() Summary {
	return Summary{
		Count: h.Count(),
		Min:   ms(h.Min()),
		Mean:  ms(h.Mean()),
		P50:   ms(h.Quantile(0.50)),
		P90:   ms(h.Quantile(0.90)),
		P99:   ms(h.Quantile(0.99)),
		P999:  ms(h.Quantile(0.999)),
		Max:   ms(h.Max()),
	}
}

// ms converts to milliseconds rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
