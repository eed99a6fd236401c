package vuser

import (
	"math"
	"sync"
	"time"
)

// second is one second of the run. Its latency distribution is a compact
// log histogram (about 19% per bucket): a run of hours keeps one per second.
type second struct {
	Created, Completed, Failed uint64
	Actions, Errors, Updates   uint64
	Active                     int64
	buckets                    [secBuckets]uint32
	maxUS                      uint64
}

const secBuckets = 128

func secBucket(us uint64) int {
	if us <= 1 {
		return 0
	}
	b := int(math.Log2(float64(us)) * 4)
	return min(b, secBuckets-1)
}

func (s *second) quantile(q float64) time.Duration {
	var n uint64
	for _, c := range s.buckets {
		n += uint64(c)
	}
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range s.buckets {
		seen += uint64(c)
		if seen >= rank {
			// The bucket's upper bound, capped by the true max.
			us := min(uint64(math.Exp2(float64(i+1)/4)), s.maxUS)
			return time.Duration(us) * time.Microsecond
		}
	}
	return time.Duration(s.maxUS) * time.Microsecond
}

// series is the run second by second.
type series struct {
	mu    sync.Mutex
	start time.Time
	secs  []second
}

func (s *series) at(t time.Time) *second {
	i := max(int(t.Sub(s.start)/time.Second), 0)
	for len(s.secs) <= i {
		s.secs = append(s.secs, second{})
	}
	return &s.secs[i]
}

func (s *series) add(t time.Time, f func(*second)) {
	s.mu.Lock()
	f(s.at(t))
	s.mu.Unlock()
}

func (s *series) action(t time.Time, lat time.Duration, failed bool) {
	s.mu.Lock()
	sec := s.at(t)
	sec.Actions++
	if failed {
		sec.Errors++
	} else {
		us := uint64(max(lat, 0) / time.Microsecond)
		sec.buckets[secBucket(us)]++
		sec.maxUS = max(sec.maxUS, us)
	}
	s.mu.Unlock()
}

// SecondReport is one row of the per-second series (CSV and HTML).
type SecondReport struct {
	Second    int     `json:"second"`
	Phase     string  `json:"phase"`
	Created   uint64  `json:"vusers_created"`
	Completed uint64  `json:"vusers_completed"`
	Failed    uint64  `json:"vusers_failed"`
	Active    int64   `json:"vusers_active"`
	Actions   uint64  `json:"actions"`
	Errors    uint64  `json:"errors"`
	Updates   uint64  `json:"slot_updates"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

func (s *series) report(phaseAt func(time.Duration) string) []SecondReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SecondReport, len(s.secs))
	for i := range s.secs {
		sec := &s.secs[i]
		out[i] = SecondReport{
			Second: i, Phase: phaseAt(time.Duration(i) * time.Second),
			Created: sec.Created, Completed: sec.Completed, Failed: sec.Failed, Active: sec.Active,
			Actions: sec.Actions, Errors: sec.Errors, Updates: sec.Updates,
			P50Ms: msOf(sec.quantile(0.5)), P99Ms: msOf(sec.quantile(0.99)), MaxMs: float64(sec.maxUS) / 1000,
		}
	}
	return out
}

func msOf(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }
