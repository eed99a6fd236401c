package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/coworkctl/coworkctl/internal/slots"
)

func BenchmarkHold(b *testing.B) {
	for _, bk := range []struct {
		name    string
		backend func(testing.TB) backend
	}{
		{"sqlite", func(testing.TB) backend { return sqliteBackend() }},
		{"postgres", postgresBackend},
	} {
		b.Run(bk.name, func(b *testing.B) {
			be := bk.backend(b)
			b.Run("free", func(b *testing.B) { benchHoldFree(b, be) })
			b.Run("free-parallel", func(b *testing.B) { benchHoldFreeParallel(b, be) })
			b.Run("contended", func(b *testing.B) { benchHoldContended(b, be) })
			b.Run("cycle-parallel", func(b *testing.B) { benchCycleParallel(b, be) })
		})
	}
}

func benchStore(b *testing.B, be backend) *Store {
	s := openStore(b, be.newDSN(b))
	if err := s.UpsertCatalog(context.Background(), slots.DemoCatalog()); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchKey spreads n over distinct free slots: 8 spazi × 9 slots a day.
func benchKey(n int64) slots.SlotKey {
	k := key(1+n%8, 1+int(n/8%9))
	k.Date = fmt.Sprintf("D%08d", n/72) // any distinct text works as a date here
	return k
}

// benchHoldFree: one caller holding free slots one after another.
func benchHoldFree(b *testing.B, be backend) {
	s := benchStore(b, be)
	ctx := context.Background()
	var n int64
	for b.Loop() {
		if _, err := s.Hold(ctx, benchKey(n), as(10), t0, t0.Add(ttl), 0); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// benchHoldFreeParallel: many callers holding distinct free slots at once.
func benchHoldFreeParallel(b *testing.B, be backend) {
	s := benchStore(b, be)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Hold(ctx, benchKey(next.Add(1)), as(10), t0, t0.Add(ttl), 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchHoldContended: many callers fighting over few slots; most lose.
func benchHoldContended(b *testing.B, be backend) {
	s := benchStore(b, be)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := benchKey(next.Add(1) / 50) // ~50 attempts per slot
			if _, err := s.Hold(ctx, k, as(10), t0, t0.Add(ttl), 0); err != nil && !errors.Is(err, slots.ErrSlotTaken) {
				b.Error(err)
				return
			}
		}
	})
}

// benchCycleParallel: 16 users each holding a free slot and releasing it,
// over and over, as emit load --churn does; one op is a hold and its
// release.
func benchCycleParallel(b *testing.B, be backend) {
	s := benchStore(b, be)
	ctx := context.Background()
	var next, user atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		by := as(100 + user.Add(1))
		for pb.Next() {
			k := benchKey(next.Add(1))
			if _, err := s.Hold(ctx, k, by, t0, t0.Add(ttl), 0); err != nil {
				b.Error(err)
				return
			}
			if _, err := s.Release(ctx, k, by, t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
