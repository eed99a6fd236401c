package scenario

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestPhaseArrivals(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name  string
		phase Phase
		want  []time.Duration // nil: check only count and bounds
		count int
	}{
		{"rate", Phase{Duration: 2 * s, ArrivalRate: 2}, []time.Duration{0, s / 2, s, 3 * s / 2}, 4},
		{"count", Phase{Duration: 3 * s, ArrivalCount: 3}, []time.Duration{0, s, 2 * s}, 3},
		{"pause", Phase{Pause: 5 * s}, nil, 0},
		{"fractional rate", Phase{Duration: 10 * s, ArrivalRate: 0.5}, []time.Duration{0, 2 * s, 4 * s, 6 * s, 8 * s}, 5},
		// 0 → 10/s over 10 s: 50 arrivals, denser at the end.
		{"ramp up", Phase{Duration: 10 * s, ArrivalRate: 0, RampTo: 10, hasRamp: true}, nil, 50},
		// 10 → 0/s: the same 50, denser at the start.
		{"ramp down", Phase{Duration: 10 * s, ArrivalRate: 10, RampTo: 0, hasRamp: true}, nil, 50},
		{"ramp flat", Phase{Duration: 2 * s, ArrivalRate: 3, RampTo: 3, hasRamp: true}, nil, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.phase.Arrivals()
			if len(got) != tc.count {
				t.Fatalf("%d arrivals, want %d", len(got), tc.count)
			}
			for i, at := range got {
				if at < 0 || at >= tc.phase.Length() || (i > 0 && at < got[i-1]) {
					t.Fatalf("arrival %d at %v out of order or outside the phase: %v", i, at, got)
				}
				if tc.want != nil && at != tc.want[i] {
					t.Fatalf("arrivals %v, want %v", got, tc.want)
				}
			}
			if tc.name == "ramp up" {
				firstHalf := countBefore(got, 5*s)
				// ∫0..5 of t dt = 12.5 → 13 arrivals (k = 0..12).
				if firstHalf != 13 {
					t.Errorf("ramp up: %d arrivals in the first half, want 13", firstHalf)
				}
			}
			if tc.name == "ramp down" {
				if n := countBefore(got, 5*s); n != 38 {
					t.Errorf("ramp down: %d arrivals in the first half, want 38", n)
				}
			}
		})
	}
}

func countBefore(ds []time.Duration, limit time.Duration) int {
	n := 0
	for _, d := range ds {
		if d < limit {
			n++
		}
	}
	return n
}

func TestScheduleRunsPhasesOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		phases := []Phase{
			{Name: "warm", Duration: 2 * time.Second, ArrivalRate: 1},
			{Name: "quiet", Pause: 3 * time.Second},
			{Name: "burst", Duration: time.Second, ArrivalCount: 2},
		}
		start := time.Now()
		type seen struct {
			a       Arrival
			elapsed time.Duration
		}
		var got []seen
		var started []string
		err := Schedule(t.Context(), phases, func(_ int, p Phase) { started = append(started, p.Name) }, func(a Arrival) {
			got = append(got, seen{a, time.Since(start)})
		})
		if err != nil {
			t.Fatal(err)
		}
		if total := time.Since(start); total != 6*time.Second {
			t.Errorf("schedule took %v, want the phases' 6s", total)
		}
		want := []seen{
			{Arrival{0, 0, 0}, 0},
			{Arrival{1, 0, time.Second}, time.Second},
			{Arrival{2, 2, 5 * time.Second}, 5 * time.Second},
			{Arrival{3, 2, 5500 * time.Millisecond}, 5500 * time.Millisecond},
		}
		if len(got) != len(want) {
			t.Fatalf("arrivals %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("arrival %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		if len(started) != 3 || started[1] != "quiet" {
			t.Errorf("phases started: %v", started)
		}
		if Total(phases) != 4 || Length(phases) != 6*time.Second {
			t.Errorf("Total %d, Length %v", Total(phases), Length(phases))
		}
	})
}

func TestScheduleStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		go func() {
			time.Sleep(2500 * time.Millisecond)
			cancel()
		}()
		err := Schedule(ctx, []Phase{{Duration: time.Minute, ArrivalRate: 1}}, nil, func(Arrival) { n++ })
		if err != context.Canceled || n != 3 {
			t.Errorf("err %v after %d arrivals, want canceled after 3", err, n)
		}
	})
}
