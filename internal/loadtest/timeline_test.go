package loadtest

import (
	"sync"
	"testing"
	"time"
)

func TestTimelineBucketsBySecond(t *testing.T) {
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	tl := newTimeline(start, 2*time.Second) // grows past this

	tl.count(countConnect, at(100*time.Millisecond))
	tl.count(countConnect, at(-time.Second)) // before the start: second 0
	tl.count(countSent, at(1500*time.Millisecond))
	tl.count(countError, at(4200*time.Millisecond))
	tl.count(countHold, at(4900*time.Millisecond))
	for i := 1; i <= 100; i++ { // second 1: 1…100 ms
		tl.deliver(at(time.Second+time.Duration(i)*time.Millisecond), time.Duration(i)*time.Millisecond)
	}
	tl.deliver(at(3*time.Second), 7*time.Millisecond)
	// Second 8 claims second 4's ring slot; a delivery still stamped in
	// second 3 after that is counted but too late for its latency.
	tl.deliver(at(8*time.Second), time.Millisecond)
	tl.deliver(at(9*time.Second), time.Millisecond)
	tl.deliver(at(10*time.Second), time.Millisecond)
	tl.deliver(at(11*time.Second), time.Millisecond) // seals second 3
	tl.deliver(at(3*time.Second+time.Millisecond), time.Hour)

	secs := tl.series(11500 * time.Millisecond)
	if len(secs) != 12 {
		t.Fatalf("%d seconds, want 12", len(secs))
	}
	want := map[int]Second{
		0:  {Connects: 2},
		1:  {Sent: 1, Delivered: 100, Latency: SecondLatency{Count: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
		3:  {Delivered: 2, Latency: SecondLatency{Count: 1, P50: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		4:  {Errors: 1, Holds: 1},
		8:  {Delivered: 1, Latency: SecondLatency{Count: 1, P50: time.Millisecond, P99: time.Millisecond, Max: time.Millisecond}},
		11: {Delivered: 1, Latency: SecondLatency{Count: 1, P50: time.Millisecond, P99: time.Millisecond, Max: time.Millisecond}},
	}
	for i, s := range secs {
		w := want[i]
		if i == 9 || i == 10 {
			w = want[8]
		}
		// Quantiles are within a bucket's 1.6%.
		if s.Latency.P50 != 0 && within(s.Latency.P50, w.Latency.P50, 0.016) {
			s.Latency.P50 = w.Latency.P50
		}
		if s.Latency.P99 != 0 && within(s.Latency.P99, w.Latency.P99, 0.016) {
			s.Latency.P99 = w.Latency.P99
		}
		if s != w {
			t.Errorf("second %d = %+v, want %+v", i, s, w)
		}
	}

	// A late error shows even past the given end.
	tl.count(countError, at(20*time.Second))
	if n := len(tl.series(11500 * time.Millisecond)); n != 21 {
		t.Errorf("after a late error: %d seconds, want 21", n)
	}
	if n := len(newTimeline(start, 0).series(0)); n != 1 {
		t.Errorf("empty run: %d seconds, want 1", n)
	}
}

func within(got, want time.Duration, frac float64) bool {
	d := float64(got - want)
	return d <= frac*float64(want) && d >= -frac*float64(want)
}

func TestTimelineConcurrent(t *testing.T) {
	start := time.Now()
	tl := newTimeline(start, time.Second)
	const workers, each, rounds = 8, 200, 10
	// Readers run concurrently but, like real arrivals, roughly in time:
	// each round straddles two adjacent seconds.
	for r := range rounds {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					at := start.Add(time.Duration(r)*time.Second + time.Duration(i)*time.Second/each + 500*time.Millisecond)
					tl.deliver(at, time.Duration(w+1)*time.Millisecond)
					if i%100 == 0 {
						tl.count(countError, at)
					}
				}
			}()
		}
		wg.Wait()
	}
	var delivered, latencies, errs uint64
	secs := tl.series(rounds * time.Second)
	for _, s := range secs {
		delivered += s.Delivered
		latencies += s.Latency.Count
		errs += s.Errors
	}
	if delivered != workers*each*rounds || latencies != delivered || errs != workers*rounds*each/100 {
		t.Errorf("delivered %d, with latency %d, errors %d", delivered, latencies, errs)
	}
	if s := secs[5]; !within(s.Latency.P50, 4*time.Millisecond, 0.016) || s.Latency.Max != 8*time.Millisecond {
		t.Errorf("second 5 = %+v", s)
	}
}
