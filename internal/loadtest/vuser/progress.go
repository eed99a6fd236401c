package vuser

import (
	"context"
	"strconv"
	"time"
)

// progressPhase samples active users into the series and calls
// Config.Progress once a second until its context ends.
type progressPhase struct {
	r     *runner
	start time.Time
}

func newProgressPhase(r *runner, start time.Time) *progressPhase {
	return &progressPhase{r: r, start: start}
}

func (p *progressPhase) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.r.series.add(now, func(s *second) { s.Active = p.r.active.Load() })
			if p.r.cfg.Progress != nil {
				p.r.cfg.Progress(p.snapshot(now))
			}
		}
	}
}

func (p *progressPhase) snapshot(now time.Time) Progress {
	r := p.r
	name := ""
	if ph := r.script.Config.Phases; len(ph) > 0 {
		i := int(r.phase.Load())
		name = ph[i].Name
		if name == "" {
			name = "phase " + strconv.Itoa(i+1)
		}
	}
	return Progress{
		Phase: name, Elapsed: now.Sub(p.start), Created: r.created.Load(), Active: r.active.Load(),
		Completed: r.completed.Load(), Failed: r.failed.Load(), Errors: r.errs.Total(),
	}
}
