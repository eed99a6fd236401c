package loadtest

import (
	"sync"
	"sync/atomic"
)

// Ledger counts, per broadcast sequence number, how many deliveries were
// expected (the members of the target room when it was sent, as the
// generator itself joined them) and how many arrived. Loss is what was
// expected and never arrived; deliveries beyond the expectation are
// duplicates; deliveries of sequence numbers never sent successfully are
// unexpected. It is safe for concurrent use.
type Ledger struct {
	mu sync.RWMutex
	// expected holds recipients+1, so that zero means "never sent".
	expected []atomic.Int32
	got      []atomic.Int32
	failed   []atomic.Bool

	unexpected atomic.Uint64
}

// NewLedger returns a ledger with room for n sequence numbers (0…n-1);
// it grows when more are sent.
func NewLedger(n int) *Ledger {
	return &Ledger{expected: make([]atomic.Int32, n), got: make([]atomic.Int32, n), failed: make([]atomic.Bool, n)}
}

func (l *Ledger) grow(seq int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq < len(l.expected) {
		return
	}
	n := 2*len(l.expected) + 16
	for n <= seq {
		n *= 2
	}
	exp, got, failed := make([]atomic.Int32, n), make([]atomic.Int32, n), make([]atomic.Bool, n)
	for i := range l.expected {
		exp[i].Store(l.expected[i].Load())
		got[i].Store(l.got[i].Load())
		failed[i].Store(l.failed[i].Load())
	}
	l.expected, l.got, l.failed = exp, got, failed
}

// Expect records that seq is about to be sent to recipients receivers.
// Call it before sending, because deliveries may overtake the response.
func (l *Ledger) Expect(seq, recipients int) {
	if seq < 0 {
		return
	}
	l.mu.RLock()
	if seq >= len(l.expected) {
		l.mu.RUnlock()
		l.grow(seq)
		l.mu.RLock()
	}
	l.expected[seq].Store(int32(max(recipients, 0)) + 1)
	l.mu.RUnlock()
}

// Fail marks seq as not sent (its request failed): it is no longer
// expected anywhere, and what arrives for it anyway counts as unexpected.
func (l *Ledger) Fail(seq int) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if seq >= 0 && seq < len(l.failed) {
		l.failed[seq].Store(true)
	}
}

// Deliver records one arrival of seq.
func (l *Ledger) Deliver(seq int) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if seq < 0 || seq >= len(l.got) {
		l.unexpected.Add(1)
		return
	}
	l.got[seq].Add(1)
}

// LossCounts are a ledger's totals.
type LossCounts struct {
	// Sent counts sequence numbers expected and not failed.
	Sent uint64 `json:"sent"`
	// Expected sums the recipients of every sent message.
	Expected uint64 `json:"expected"`
	// Delivered counts arrivals of sent messages up to what was expected.
	Delivered uint64 `json:"delivered"`
	// Lost is Expected minus Delivered.
	Lost uint64 `json:"lost"`
	// Duplicates counts arrivals beyond the expectation of a message.
	Duplicates uint64 `json:"duplicates"`
	// Unexpected counts arrivals of messages never sent successfully.
	Unexpected uint64 `json:"unexpected"`
	// Loss is Lost / Expected, zero when nothing was expected.
	Loss float64 `json:"loss"`
}

// Counts totals the ledger. Sequence numbers never passed to Expect are
// not counted as sent.
func (l *Ledger) Counts() LossCounts {
	l.mu.RLock()
	defer l.mu.RUnlock()
	c := LossCounts{Unexpected: l.unexpected.Load()}
	for i := range l.expected {
		stored, got := l.expected[i].Load(), uint64(max(l.got[i].Load(), 0))
		if stored == 0 || l.failed[i].Load() {
			c.Unexpected += got
			continue
		}
		exp := uint64(stored - 1)
		c.Sent++
		c.Expected += exp
		if got > exp {
			c.Duplicates += got - exp
			got = exp
		}
		c.Delivered += got
	}
	c.Lost = c.Expected - c.Delivered
	if c.Expected > 0 {
		c.Loss = float64(c.Lost) / float64(c.Expected)
	}
	return c
}

// Outstanding returns how many expected deliveries have not arrived yet;
// the generator drains until it reaches zero or a deadline.
func (l *Ledger) Outstanding() uint64 {
	c := l.Counts()
	return c.Lost
}
