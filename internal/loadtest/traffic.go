package loadtest

import (
	"context"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
	"golang.org/x/sync/errgroup"
)

// trafficActors are who the traffic phase acts as: the staff's REST
// client for broadcasts, and a virtual user's for churn (tests stand in
// for the server with it).
type trafficActors struct {
	staff *client.REST
	actAs func(token string) slotActor
}

// request is one REST call of the traffic phase; the worker that runs it
// passes the run's ctx, which outlives the schedule window.
type request func(ctx context.Context)

// runTraffic is the traffic phase. Its schedules (broadcasts, churn
// holds) run until cfg.Duration has passed; MaxInflight workers make
// their requests, so no request has a goroutine of its own and requests
// in flight never exceed MaxInflight. A schedule hands a request over only
// when a worker is free: a saturated server delays the schedule, and the
// delay shows as latency because each message carries its scheduled time.
//
// It returns when the schedule window ended (the drain phase starts
// there) and every request it started, churn releases included, has
// finished.
func (r *runner) runTraffic(ctx context.Context, start time.Time, as trafficActors) (scheduleEnd time.Time) {
	window, cancel := context.WithDeadline(ctx, start.Add(r.cfg.Duration))
	defer cancel()

	requests := make(chan request)
	var workers errgroup.Group
	for range r.cfg.MaxInflight {
		workers.Go(func() error {
			for req := range requests {
				req(ctx)
			}
			return nil
		})
	}
	var schedules errgroup.Group
	if r.cfg.Rate > 0 {
		schedules.Go(func() error {
			r.broadcast(window, as.staff, start, requests)
			return nil
		})
	}
	if r.cfg.Churn > 0 {
		schedules.Go(func() error {
			r.churn(ctx, window, as.actAs, start, requests)
			return nil
		})
	}
	<-window.Done()
	scheduleEnd = time.Now()
	r.phase.Store(PhaseDrain)
	_ = schedules.Wait()
	close(requests)
	_ = workers.Wait()
	return scheduleEnd
}

// pacer sleeps until scheduled times on one reusable timer.
type pacer struct{ t *time.Timer }

func newPacer() *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{t: t}
}

// until sleeps until at; false when ctx ended first.
func (p *pacer) until(ctx context.Context, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	p.t.Reset(d)
	select {
	case <-p.t.C:
		return true
	case <-ctx.Done():
		p.t.Stop()
		return false
	}
}

// hand gives req to a free worker; false when ctx ended first.
func hand(ctx context.Context, requests chan<- request, req request) bool {
	select {
	case requests <- req:
		return true
	case <-ctx.Done():
		return false
	}
}
