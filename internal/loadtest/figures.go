package loadtest

import (
	"strings"

	"github.com/coworkctl/coworkctl/internal/loadtest/threshold"
)

// Figures returns every figure of the fixed run by name, for --threshold.
// Where a scenario run reports the same figure it has the same name
// (connect.p99, hold.p99, slot_update.p99, errors.rate, generator.cpu_s),
// so one threshold reads the same on both:
//
//	connect.count, .ok, .errors (= .failed), .error_rate, .p50 … .max
//	delivery.expected, .delivered, .lost, .duplicates, .unexpected, .loss_rate, .per_s, .p50 … .max
//	broadcast.count, .ok, .errors, .error_rate, .per_s, .p50 … .max (the admin emit request)
//	hold.count, .ok, .refused, .errors, .per_s, .p50 … .max; release.count, .ok, .errors, .p50 … .max
//	slot_update.expected, .delivered, .p50 … .max
//	connections.target, .connected, .joined, .failed, .still_open
//	errors.total, errors.rate, generator.cpu_s, generator.cpu_s_per_100k_msgs
//
// Latencies are in ms (min, mean, p50, median, p90, p99, p999, max) and
// exist only when something was measured.
func (rep *Report) Figures() threshold.Figures {
	f := threshold.Figures{}
	count := func(name string, n uint64) { f[name] = threshold.Figure{Value: float64(n)} }
	ratio := func(name string, n, of uint64) {
		if of > 0 {
			f[name] = threshold.Figure{Value: float64(n) / float64(of), Unit: threshold.Ratio}
		}
	}
	kinds := func(prefix string) (n uint64) {
		for k, c := range rep.Errors.ByKind {
			if strings.HasPrefix(k, prefix+"_") {
				n += c
			}
		}
		return n
	}

	c := rep.Connections
	target, failed := uint64(max(c.Target, 0)), uint64(max(c.Failed, 0))
	count("connect.count", target)
	count("connect.ok", uint64(max(c.Connected, 0)))
	count("connect.errors", failed)
	count("connect.failed", failed)
	ratio("connect.error_rate", failed, target)
	c.ConnectLatency.addFigures(f, "connect")
	count("connections.target", target)
	count("connections.connected", uint64(max(c.Connected, 0)))
	count("connections.joined", uint64(max(c.Joined, 0)))
	count("connections.failed", failed)
	count("connections.still_open", uint64(max(c.StillOpen, 0)))

	m := rep.Messages
	count("delivery.expected", m.Expected)
	count("delivery.delivered", m.Delivered)
	count("delivery.lost", m.Lost)
	count("delivery.duplicates", m.Duplicates)
	count("delivery.unexpected", m.Unexpected)
	ratio("delivery.loss_rate", m.Lost, m.Expected)
	f["delivery.per_s"] = threshold.Figure{Value: m.PerSecond}
	rep.Latency.addFigures(f, "delivery")

	b := rep.Broadcasts
	count("broadcast.count", b.Sent)
	count("broadcast.ok", b.Sent-min(b.Failed, b.Sent))
	count("broadcast.errors", b.Failed)
	ratio("broadcast.error_rate", b.Failed, b.Sent)
	f["broadcast.per_s"] = threshold.Figure{Value: b.RatePerSecond}
	b.RequestLatency.addFigures(f, "broadcast")

	ch := rep.Churn
	holdErrs, releaseErrs := kinds("hold"), kinds("release")
	holds := ch.Holds + ch.Conflicts + ch.Limited + holdErrs
	count("hold.count", holds)
	count("hold.ok", ch.Holds)
	count("hold.refused", ch.Conflicts+ch.Limited)
	count("hold.errors", holdErrs)
	ratio("hold.error_rate", holdErrs, holds)
	f["hold.per_s"] = threshold.Figure{Value: ch.HoldsPerSecond}
	ch.HoldLatency.addFigures(f, "hold")
	count("release.count", ch.Releases+releaseErrs)
	count("release.ok", ch.Releases)
	count("release.errors", releaseErrs)
	ch.ReleaseLatency.addFigures(f, "release")
	count("slot_update.expected", ch.UpdatesExpected)
	count("slot_update.delivered", ch.UpdatesDelivered)
	ch.UpdateLatency.addFigures(f, "slot_update")

	// Actions are what the generator asked of the server: connects,
	// broadcasts, holds and releases.
	count("errors.total", rep.Errors.Total)
	f["errors.rate"] = threshold.Figure{Unit: threshold.Ratio}
	ratio("errors.rate", rep.Errors.Total, target+b.Sent+holds+ch.Releases+releaseErrs)
	f["generator.cpu_s"] = threshold.Figure{Value: rep.Generator.CPUSeconds}
	f["generator.cpu_s_per_100k_msgs"] = threshold.Figure{Value: rep.Generator.CPUSecondsPer100kMsgs}
	return f
}

// addFigures adds s's latencies as prefix.p50 … prefix.max (ms); none when
// s counted nothing.
func (s Summary) addFigures(f threshold.Figures, prefix string) {
	if s.Count == 0 {
		return
	}
	for name, v := range map[string]float64{"min": s.Min, "mean": s.Mean, "p50": s.P50, "median": s.P50,
		"p90": s.P90, "p99": s.P99, "p999": s.P999, "max": s.Max} {
		f[prefix+"."+name] = threshold.Figure{Value: v, Unit: threshold.Millis}
	}
}
