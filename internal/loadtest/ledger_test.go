package loadtest

import (
	"sync"
	"testing"
)

func TestLedgerCounts(t *testing.T) {
	tests := []struct {
		name string
		run  func(l *Ledger)
		want LossCounts
	}{
		{"all delivered", func(l *Ledger) {
			for seq := 0; seq < 10; seq++ {
				l.Expect(seq, 3)
				for r := 0; r < 3; r++ {
					l.Deliver(seq)
				}
			}
		}, LossCounts{Sent: 10, Expected: 30, Delivered: 30}},
		{"some lost", func(l *Ledger) {
			l.Expect(0, 4)
			l.Expect(1, 4)
			l.Deliver(0)
			l.Deliver(0)
			l.Deliver(1)
		}, LossCounts{Sent: 2, Expected: 8, Delivered: 3, Lost: 5, Loss: 5.0 / 8}},
		{"duplicates do not hide loss elsewhere", func(l *Ledger) {
			l.Expect(0, 1)
			l.Expect(1, 1)
			l.Deliver(0)
			l.Deliver(0)
		}, LossCounts{Sent: 2, Expected: 2, Delivered: 1, Lost: 1, Duplicates: 1, Loss: 0.5}},
		{"failed send is not expected", func(l *Ledger) {
			l.Expect(0, 5)
			l.Fail(0)
			l.Deliver(0)
			l.Expect(1, 2)
			l.Deliver(1)
			l.Deliver(1)
		}, LossCounts{Sent: 1, Expected: 2, Delivered: 2, Unexpected: 1}},
		{"unknown sequence numbers", func(l *Ledger) {
			l.Deliver(-1)
			l.Deliver(3) // within the buffer but never sent
			l.Deliver(1 << 20)
		}, LossCounts{Unexpected: 3}},
		{"empty room counts as sent", func(l *Ledger) {
			l.Expect(0, 0)
		}, LossCounts{Sent: 1}},
		{"grows past its initial size", func(l *Ledger) {
			for seq := 0; seq < 1000; seq++ {
				l.Expect(seq, 2)
				l.Deliver(seq)
			}
		}, LossCounts{Sent: 1000, Expected: 2000, Delivered: 1000, Lost: 1000, Loss: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLedger(4)
			tt.run(l)
			if got := l.Counts(); got != tt.want {
				t.Fatalf("Counts() = %+v\nwant       %+v", got, tt.want)
			}
			if l.Outstanding() != tt.want.Lost {
				t.Fatalf("Outstanding() = %d, want %d", l.Outstanding(), tt.want.Lost)
			}
		})
	}
}

func TestLedgerConcurrentGrowth(t *testing.T) {
	l := NewLedger(1)
	var wg sync.WaitGroup
	const n, recipients = 2000, 5
	for seq := 0; seq < n; seq++ {
		l.Expect(seq, recipients)
	}
	for r := 0; r < recipients; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; seq < n; seq++ {
				l.Deliver(seq)
			}
		}()
	}
	// Sends racing with deliveries force growth under load.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seq := n; seq < 2*n; seq++ {
			l.Expect(seq, 0)
		}
	}()
	wg.Wait()
	c := l.Counts()
	if c.Delivered != n*recipients || c.Lost != 0 || c.Sent != 2*n {
		t.Fatalf("Counts() = %+v", c)
	}
}
