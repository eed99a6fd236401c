package scenario

import (
	"context"
	"math"
	"time"
)

// Phase is one stretch of arrivals, as Artillery's config.phases.
type Phase struct {
	Name     string
	Duration time.Duration
	// ArrivalRate is new virtual users per second; with RampTo the rate
	// moves linearly from ArrivalRate to RampTo over Duration.
	ArrivalRate, RampTo float64
	// ArrivalCount spreads this many arrivals evenly over Duration.
	ArrivalCount int
	// Pause is a phase without arrivals.
	Pause time.Duration
	// MaxVusers caps virtual users active at once in this phase; zero
	// means no cap.
	MaxVusers int
	Line      int

	hasRamp bool
}

// Length is how long the phase lasts.
func (p Phase) Length() time.Duration {
	if p.Pause > 0 {
		return p.Pause
	}
	return p.Duration
}

// Arrivals returns the offsets from the phase's start at which its virtual
// users arrive, in order.
func (p Phase) Arrivals() []time.Duration {
	if p.Pause > 0 {
		return nil
	}
	d := p.Duration.Seconds()
	var out []time.Duration
	at := func(sec float64) time.Duration { return time.Duration(math.Round(sec * 1e9)) }
	switch {
	case p.ArrivalCount > 0:
		step := d / float64(p.ArrivalCount)
		for k := range p.ArrivalCount {
			out = append(out, at(float64(k)*step))
		}
	case p.hasRamp && p.RampTo != p.ArrivalRate:
		// The k-th arrival is where the integral of the linear rate
		// r0 + (r1-r0)·t/d reaches k.
		r0, r1 := p.ArrivalRate, p.RampTo
		a := (r1 - r0) / (2 * d)
		total := int(math.Floor((r0+r1)/2*d + 1e-9))
		for k := range total {
			t := (-r0 + math.Sqrt(r0*r0+4*a*float64(k))) / (2 * a)
			out = append(out, at(t))
		}
	default:
		n := int(math.Floor(p.ArrivalRate*d + 1e-9))
		for k := range n {
			out = append(out, at(float64(k)/p.ArrivalRate))
		}
	}
	return out
}

// Arrival is one virtual user's start.
type Arrival struct {
	// Index counts arrivals from 0 over the whole run.
	Index int
	// Phase is the index of its phase in config.phases.
	Phase int
	// At is its offset from the run's start.
	At time.Duration
}

// Total counts the arrivals of all phases.
func Total(phases []Phase) int {
	n := 0
	for _, p := range phases {
		n += len(p.Arrivals())
	}
	return n
}

// Length is how long all phases last together.
func Length(phases []Phase) time.Duration {
	var d time.Duration
	for _, p := range phases {
		d += p.Length()
	}
	return d
}

// Schedule calls arrive for every arrival at its time, measured with the
// time package from the call, and returns when the last phase has ended or
// ctx is done (then with ctx's error). arrive must not block for long: it
// starts the virtual user and returns. onPhase, when set, is called as
// each phase starts.
func Schedule(ctx context.Context, phases []Phase, onPhase func(int, Phase), arrive func(Arrival)) error {
	start := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(until time.Duration) error {
		d := until - time.Since(start)
		if d <= 0 {
			return ctx.Err()
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		}
	}
	var base time.Duration
	idx := 0
	for pi, p := range phases {
		if onPhase != nil {
			onPhase(pi, p)
		}
		for _, off := range p.Arrivals() {
			if err := wait(base + off); err != nil {
				return err
			}
			arrive(Arrival{Index: idx, Phase: pi, At: base + off})
			idx++
		}
		base += p.Length()
		if err := wait(base); err != nil {
			return err
		}
	}
	return nil
}
