package vuser

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
)

func TestWorkersReuseIdleGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorkers()
		var ran atomic.Int32
		release := make(chan struct{})
		// Two users at once need two workers.
		for range 2 {
			w.run(func() { <-release; ran.Add(1) })
		}
		synctest.Wait()
		if w.started != 2 {
			t.Fatalf("started %d workers for 2 concurrent users, want 2", w.started)
		}
		close(release)
		synctest.Wait() // both workers are idle now
		// Later users take the idle workers instead of new goroutines.
		for range 5 {
			w.run(func() { ran.Add(1) })
			synctest.Wait()
		}
		w.wait()
		if w.started != 2 {
			t.Fatalf("started %d workers, want the 2 idle ones reused", w.started)
		}
		if n := ran.Load(); n != 7 {
			t.Fatalf("ran %d users, want 7", n)
		}
	})
}

func TestWorkersWaitForRunningUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorkers()
		release := make(chan struct{})
		var done atomic.Bool
		w.run(func() { <-release; done.Store(true) })
		waited := make(chan struct{})
		go func() { w.wait(); close(waited) }()
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("wait returned while a user was running")
		default:
		}
		close(release)
		<-waited
		if !done.Load() {
			t.Fatal("wait returned before the user finished")
		}
	})
}
