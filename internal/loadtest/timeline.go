package loadtest

import (
	"sync"
	"sync/atomic"
	"time"
)

// timeline buckets a run by whole seconds since its start: connects,
// broadcasts sent, broadcast deliveries with their latency, errors and
// holds. It is safe for concurrent use.
//
// A second costs 72 bytes, so runs of hours are cheap. Latency needs a
// histogram per second; a full Histogram is ~19 KB, so only the last few
// seconds keep one (a ring): when a new second claims a slot, the second
// that held it is summarized (count, p50, p99, max) and its histogram
// dropped. Deliveries arrive in time order, so a slot is only reused once
// its second is long over.
type timeline struct {
	start time.Time

	mu   sync.RWMutex // write-locked to grow secs and to seal a ring slot
	secs []timelineSecond
	ring [timelineRing]latencySlot
}

// timelineRing is how many seconds keep a full histogram. A delivery
// recorded more than timelineRing-1 seconds after its arrival was stamped
// (a reader stalled that long) is counted but left out of the per-second
// latency.
const timelineRing = 4

type timelineSecond struct {
	connects, sent, delivered, errors, holds atomic.Uint64
	latency                                  SecondLatency // written when its slot is sealed
}

type latencySlot struct {
	sec int // -1: free
	h   *Histogram
}

// newTimeline starts a timeline at start, with room for about expected
// seconds (it grows beyond).
func newTimeline(start time.Time, expected time.Duration) *timeline {
	t := &timeline{start: start, secs: make([]timelineSecond, int(expected/time.Second)+2)}
	for i := range t.ring {
		t.ring[i] = latencySlot{sec: -1, h: new(Histogram)}
	}
	return t
}

// Counters a timeline keeps per second besides deliveries.
const (
	countConnect = iota
	countSent
	countError
	countHold
)

// index returns the second of at, clamped at zero.
func (t *timeline) index(at time.Time) int {
	d := at.Sub(t.start)
	if d < 0 {
		return 0
	}
	return int(d / time.Second)
}

// second returns the bucket of second i with t.mu read-locked; the caller
// unlocks.
func (t *timeline) second(i int) *timelineSecond {
	t.mu.RLock()
	if i < len(t.secs) {
		return &t.secs[i]
	}
	t.mu.RUnlock()
	t.mu.Lock()
	if i >= len(t.secs) {
		n := max(2*len(t.secs), i+1)
		secs := make([]timelineSecond, n)
		for j := range t.secs {
			copySecond(&secs[j], &t.secs[j])
		}
		t.secs = secs
	}
	t.mu.Unlock()
	t.mu.RLock()
	return &t.secs[i]
}

func copySecond(dst, src *timelineSecond) {
	dst.connects.Store(src.connects.Load())
	dst.sent.Store(src.sent.Load())
	dst.delivered.Store(src.delivered.Load())
	dst.errors.Store(src.errors.Load())
	dst.holds.Store(src.holds.Load())
	dst.latency = src.latency
}

// count adds one event of kind (countConnect…) at time at.
func (t *timeline) count(kind int, at time.Time) {
	s := t.second(t.index(at))
	switch kind {
	case countConnect:
		s.connects.Add(1)
	case countSent:
		s.sent.Add(1)
	case countError:
		s.errors.Add(1)
	case countHold:
		s.holds.Add(1)
	}
	t.mu.RUnlock()
}

// deliver records one broadcast delivery that arrived at at after
// latency d.
func (t *timeline) deliver(at time.Time, d time.Duration) {
	i := t.index(at)
	for {
		s := t.second(i)
		slot := &t.ring[i%timelineRing]
		if slot.sec == i || slot.sec > i {
			s.delivered.Add(1)
			if slot.sec == i {
				slot.h.Record(d)
			}
			t.mu.RUnlock()
			return
		}
		// The slot still holds an older second: seal it and claim it.
		t.mu.RUnlock()
		t.mu.Lock()
		if slot.sec < i {
			t.seal(slot)
			slot.sec = i
		}
		t.mu.Unlock()
	}
}

// seal summarizes the second in slot into its bucket and frees the slot.
// t.mu is write-locked.
func (t *timeline) seal(slot *latencySlot) {
	if slot.sec >= 0 && slot.h.Count() > 0 {
		t.secs[slot.sec].latency = SecondLatency{
			Count: slot.h.Count(), P50: slot.h.Quantile(0.50), P99: slot.h.Quantile(0.99), Max: slot.h.Max(),
		}
		slot.h = new(Histogram)
	}
	slot.sec = -1
}

// series seals every open second and returns the series up to end (an
// offset from the start): one Second per started second, at least one.
// Events recorded afterwards are not in it.
func (t *timeline) series(end time.Duration) []Second {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.ring {
		t.seal(&t.ring[i])
	}
	n := max(int((end+time.Second-1)/time.Second), 1)
	// Events stamped after end (a late error) still show.
	for i := len(t.secs) - 1; i >= n; i-- {
		if s := &t.secs[i]; s.connects.Load()+s.sent.Load()+s.delivered.Load()+s.errors.Load()+s.holds.Load() > 0 {
			n = i + 1
			break
		}
	}
	out := make([]Second, n)
	for i := range out {
		if i >= len(t.secs) {
			break
		}
		s := &t.secs[i]
		out[i] = Second{Connects: s.connects.Load(), Sent: s.sent.Load(), Delivered: s.delivered.Load(),
			Errors: s.errors.Load(), Holds: s.holds.Load(), Latency: s.latency}
	}
	return out
}

// Series is a run second by second, for the HTML and CSV reports.
type Series struct {
	// Start is when the run began; second 0 starts here.
	Start time.Time
	// TrafficStart, TrafficEnd and End are offsets from Start: the
	// connect phase ends at TrafficStart, the drain runs from TrafficEnd to
	// End.
	TrafficStart, TrafficEnd, End time.Duration
	// Seconds holds one entry per started second of the run.
	Seconds []Second
}

// Second is what happened in one second of a run.
type Second struct {
	// Connects counts clients whose handshake completed.
	Connects uint64
	// Sent counts broadcasts sent through the staff endpoint.
	Sent uint64
	// Delivered counts broadcast messages received by any client.
	Delivered uint64
	// Errors counts errors of every kind.
	Errors uint64
	// Holds counts successful churn holds.
	Holds uint64
	// Latency summarizes the delivery latency of the messages that
	// arrived in this second; its Count is zero when none did.
	Latency SecondLatency
}

// SecondLatency is one second's delivery latency.
type SecondLatency struct {
	Count         uint64
	P50, P99, Max time.Duration
}

// Phase names the phase second i belongs to (by its start).
func (s *Series) Phase(i int) string {
	at := time.Duration(i) * time.Second
	switch {
	case at < s.TrafficStart:
		return PhaseConnect
	case at < s.TrafficEnd:
		return PhaseTraffic
	default:
		return PhaseDrain
	}
}

// SecondReport is one second of the run in the JSON report: the CSV's
// columns, with latencies zero in seconds without deliveries.
type SecondReport struct {
	Second    int     `json:"second"`
	Phase     string  `json:"phase"`
	Connects  uint64  `json:"connects"`
	Sent      uint64  `json:"sent"`
	Delivered uint64  `json:"delivered"`
	Errors    uint64  `json:"errors"`
	Holds     uint64  `json:"holds"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

// Report returns the series as rows of the JSON report.
func (s *Series) Report() []SecondReport {
	out := make([]SecondReport, len(s.Seconds))
	for i, sec := range s.Seconds {
		out[i] = SecondReport{Second: i, Phase: s.Phase(i), Connects: sec.Connects, Sent: sec.Sent, Delivered: sec.Delivered,
			Errors: sec.Errors, Holds: sec.Holds, P50Ms: ms(sec.Latency.P50), P99Ms: ms(sec.Latency.P99), MaxMs: ms(sec.Latency.Max)}
	}
	return out
}
