package vuser

import "sync"

// workers runs virtual users on goroutines that are reused. A user's
// goroutine grows its stack while it dials and encodes JSON; a fresh
// goroutine per user made the runtime grow and copy a stack for every
// user. An idle worker waits for the next user, so the pool grows to the
// run's peak of concurrent users and no further.
type workers struct {
	next    chan func()
	wg      sync.WaitGroup
	started int // workers started; only the goroutine calling run touches it
}

func newWorkers() *workers { return &workers{next: make(chan func())} }

// run starts f on an idle worker, or on a new one when none is idle. It
// is called from one goroutine, never after wait.
func (w *workers) run(f func()) {
	select {
	case w.next <- f:
	default:
		w.started++
		w.wg.Go(func() {
			f()
			for f := range w.next {
				f()
			}
		})
	}
}

// wait lets the idle workers end and waits until every user has finished.
func (w *workers) wait() {
	close(w.next)
	w.wg.Wait()
}
