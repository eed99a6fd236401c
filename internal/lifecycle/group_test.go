package lifecycle

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestCloseWaitsForRunningWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		release := make(chan struct{})
		var started atomic.Int32
		g.Go(func() { started.Add(1); <-release })
		timer := time.AfterFunc(time.Second, func() { g.Run(func() { started.Add(1); <-release }) })
		defer timer.Stop()
		time.Sleep(time.Second)
		synctest.Wait()
		if started.Load() != 2 {
			t.Fatalf("%d of 2 pieces of work started", started.Load())
		}
		var closed atomic.Bool
		go func() { g.Close(); closed.Store(true) }()
		synctest.Wait()
		if closed.Load() {
			t.Fatal("Close returned while work was running")
		}
		close(release)
		synctest.Wait()
		if !closed.Load() {
			t.Fatal("Close did not return once the work ended")
		}
	})
}

func TestNothingStartsAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		ran := false
		timer := time.AfterFunc(time.Second, func() { g.Run(func() { ran = true }) })
		defer timer.Stop()
		g.Close()
		g.Close() // twice is fine
		if g.Go(func() { ran = true }) || g.Enter() {
			t.Error("work could start after Close")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if ran {
			t.Error("a callback that fired after Close ran its body")
		}
	})
}

// Under -race: work entering while another goroutine closes either runs
// to its end before Close returns or never starts.
func TestEnterRacingClose(t *testing.T) {
	for range 200 {
		var g Group
		var running, afterClose atomic.Int32
		var closed atomic.Bool
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if g.Enter() {
					running.Add(1)
					if closed.Load() {
						afterClose.Add(1)
					}
					running.Add(-1)
					g.Exit()
				}
			})
		}
		g.Close()
		closed.Store(true)
		if n := running.Load(); n != 0 {
			t.Fatalf("Close returned with %d pieces of work running", n)
		}
		wg.Wait()
		if n := afterClose.Load(); n != 0 {
			t.Fatalf("%d pieces of work started after Close returned", n)
		}
	}
}
