package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coworkctl/coworkctl/internal/server/metrics"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/store"
	"github.com/coworkctl/coworkctl/internal/store/mio"
)

// Table layouts of --db-layout.
const (
	// LayoutCoworkctl is coworkctl's own tables (SQLite or PostgreSQL).
	LayoutCoworkctl = "coworkctl"
	// LayoutCoworkingMio is the coworking backend's own tables on its
	// PostgreSQL: Sede, Spazio and Prenotazione (see package mio).
	LayoutCoworkingMio = "coworking-mio"
)

// runStore is what Run needs of a store beyond slots.Store.
type runStore interface {
	slots.Store
	String() string
}

// openStore opens the store of cfg's layout and registers its metrics.
func openStore(ctx context.Context, cfg Config, reg prometheus.Registerer, log *slog.Logger) (runStore, error) {
	switch cfg.DBLayout {
	case "", LayoutCoworkctl:
		st, err := store.Open(ctx, cfg.DB, log)
		if err != nil {
			return nil, err
		}
		metrics.StoreWrites(reg,
			func() float64 { return float64(st.WriteStats().Transactions) },
			func() float64 { return float64(st.WriteStats().Changes) },
			func() float64 { return float64(st.WriteStats().Waiting) })
		return st, nil
	case LayoutCoworkingMio:
		st, err := mio.Open(ctx, mio.Config{DSN: cfg.DB, OwnSchema: cfg.DBOwnSchema, Location: cfg.Location, Log: log})
		if err != nil {
			return nil, err
		}
		metrics.StoreWrites(reg,
			func() float64 { tx, _ := st.WriteStats(); return float64(tx) },
			func() float64 { _, ops := st.WriteStats(); return float64(ops) },
			func() float64 { return 0 })
		metrics.BackendConflicts(reg, func() float64 { return float64(st.Conflicts()) })
		return st, nil
	}
	return nil, fmt.Errorf("unknown --db-layout %q: want %s or %s", cfg.DBLayout, LayoutCoworkctl, LayoutCoworkingMio)
}

// sweepCap is how late this node may free a hold it did not plan a sweep
// for: one made on another node, or by another application.
func sweepCap(cfg Config, clustered bool) time.Duration {
	if clustered || cfg.DBLayout == LayoutCoworkingMio {
		return time.Second
	}
	return time.Minute
}
