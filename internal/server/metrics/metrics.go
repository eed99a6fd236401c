// Package metrics defines coworkctl's Prometheus metrics on an injected
// registry (never the global one, so tests can build many servers).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's instruments.
type Metrics struct {
	Sockets          prometheus.Gauge
	Users            prometheus.Gauge
	Rooms            prometheus.Gauge
	EventsIn         *prometheus.CounterVec // by event
	EventsOut        *prometheus.CounterVec // by event
	Holds            *prometheus.CounterVec // by result: ok, taken, limited, invalid, error
	SlotActions      *prometheus.CounterVec // by action, result
	Expiries         prometheus.Counter
	AuthFailures     *prometheus.CounterVec // by code and transport (socket, http)
	Disconnects      *prometheus.CounterVec // by reason
	Refused          *prometheus.CounterVec // by cap: connections
	PendingEvicted   prometheus.Counter
	RateLimited      prometheus.Counter
	BroadcastSeconds *prometheus.HistogramVec // by event
	HTTPRequests     *prometheus.CounterVec   // by route, code
	HTTPSeconds      *prometheus.HistogramVec // by route
	// StaleUpdates counts slot updates not delivered because a newer
	// update of the same slot had been (they arrived out of order).
	StaleUpdates prometheus.Counter
	// UpdateGaps counts grid versions a feed stopped waiting for: slot
	// updates that never reached this node in time (lost, or delayed past
	// the wait), so the updates after them went without them.
	UpdateGaps prometheus.Counter
}

// New registers the metrics on reg, plus Go runtime and process collectors.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Sockets: prometheus.NewGauge(prometheus.GaugeOpts{Name: "coworkctl_sockets", Help: "Connected Socket.IO sockets on this node."}),
		Users:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "coworkctl_users", Help: "Distinct users connected to this node."}),
		Rooms:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "coworkctl_rooms", Help: "Space rooms with at least one member on this node."}),
		EventsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_events_in_total", Help: "Socket.IO events received from clients."},
			[]string{"event"}),
		EventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_events_out_total", Help: "Socket.IO events emitted (one per emit call, not per recipient)."},
			[]string{"event"}),
		Holds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_holds_total", Help: "Hold attempts by result."},
			[]string{"result"}),
		SlotActions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_slot_actions_total", Help: "Hold, book and release requests by result."},
			[]string{"action", "result"}),
		Expiries:     prometheus.NewCounter(prometheus.CounterOpts{Name: "coworkctl_hold_expiries_total", Help: "Holds freed by the expiry timer on this node."}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_auth_failures_total", Help: "Rejected authentications by code."}, []string{"code", "via"}),
		Disconnects:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_disconnects_total", Help: "Socket disconnects by reason."}, []string{"reason"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_sessions_refused_total", Help: "New Engine.IO sessions refused by a cap (connections: connected sockets)."},
			[]string{"cap"}),
		PendingEvicted: prometheus.NewCounter(prometheus.CounterOpts{Name: "coworkctl_pending_evicted_total",
			Help: "Engine.IO sessions without a CONNECT closed to make room for a newer handshake (pending pool full, or the address's bound reached)."}),
		RateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "coworkctl_rate_limited_events_total", Help: "Client events dropped by the per-socket rate limit."}),
		BroadcastSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "coworkctl_broadcast_seconds", Help: "Time to hand one broadcast to the Socket.IO adapter.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}}, []string{"event"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coworkctl_http_requests_total", Help: "REST requests by route and status code."}, []string{"route", "code"}),
		HTTPSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "coworkctl_http_request_seconds", Help: "REST request latency by route.",
			Buckets: prometheus.DefBuckets}, []string{"route"}),
		StaleUpdates: prometheus.NewCounter(prometheus.CounterOpts{Name: "coworkctl_stale_slot_updates_total",
			Help: "Slot updates not delivered to this node's sockets because a newer update of the same slot already was."}),
		UpdateGaps: prometheus.NewCounter(prometheus.CounterOpts{Name: "coworkctl_slot_update_gaps_total",
			Help: "Grid versions whose slot update had not reached this node when the updates after it stopped waiting for it."}),
	}
	reg.MustRegister(m.Sockets, m.Users, m.Rooms, m.EventsIn, m.EventsOut, m.Holds, m.SlotActions, m.Expiries,
		m.AuthFailures, m.Disconnects, m.Refused, m.PendingEvicted, m.RateLimited, m.BroadcastSeconds, m.HTTPRequests, m.HTTPSeconds, m.StaleUpdates, m.UpdateGaps,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// StoreWrites registers the store's write counters, read at each scrape:
// slot changes, the transactions they took (their ratio is how many
// changes share a commit on SQLite) and the changes waiting for SQLite's
// writer.
func StoreWrites(reg prometheus.Registerer, transactions, changes, waiting func() float64) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coworkctl_store_write_transactions_total",
			Help: "Write transactions of slot changes committed or tried."}, transactions),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coworkctl_store_writes_total",
			Help: "Slot changes (hold, book, release, cancel, expiry sweep) written to the store."}, changes),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coworkctl_store_writes_waiting",
			Help: "Slot changes waiting for SQLite's single writer (0 on PostgreSQL)."}, waiting),
	)
}

// ClusterBacklog registers the cluster's publish queue, read at each
// scrape: broadcasts waiting for Redis, those that had to wait (published
// late) and those dropped from a full queue.
func ClusterBacklog(reg prometheus.Registerer, waiting, delayed, dropped func() float64) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "coworkctl_cluster_publish_waiting",
			Help: "Broadcasts queued for the other nodes, not yet handed to Redis."}, waiting),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coworkctl_cluster_publish_delayed_total",
			Help: "Broadcasts to the other nodes that waited for Redis to come back."}, delayed),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coworkctl_cluster_publish_dropped_total",
			Help: "Broadcasts to the other nodes dropped from a full queue during a Redis outage (their slots are resent as their current state)."}, dropped),
	)
}

// BackendConflicts registers the count of pairs of the backend's
// Prenotazione rows found taking one slot at once (--db-layout
// coworking-mio): a row the backend wrote over a live hold.
func BackendConflicts(reg prometheus.Registerer, conflicts func() float64) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "coworkctl_backend_conflicts_total",
		Help: "Pairs of Prenotazione rows found taking one slot at once (layout coworking-mio), each counted once."}, conflicts))
}
