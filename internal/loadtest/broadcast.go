package loadtest

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"time"

	"github.com/coworkctl/coworkctl/internal/client"
)

// broadcastBody builds the admin emit body for sequence seq without
// encoding/json: the payload is the generator's, so its layout is known.
func (r *runner) broadcastBody(buf []byte, seq int, scheduledUS int64, sp Space) []byte {
	buf = append(buf, `{"event":`...)
	buf = strconv.AppendQuote(buf, r.cfg.Event)
	buf = append(buf, `,"spazioId":`...)
	buf = strconv.AppendInt(buf, sp.SpazioID, 10)
	buf = append(buf, `,"sedeId":`...)
	buf = strconv.AppendInt(buf, sp.SedeID, 10)
	buf = append(buf, `,"data":{`...)
	dataStart := len(buf) - 1
	buf = append(buf, seqKey...)
	buf = strconv.AppendInt(buf, int64(seq), 10)
	buf = append(buf, ',')
	buf = append(buf, tsKey...)
	buf = strconv.AppendInt(buf, scheduledUS, 10)
	buf = append(buf, `,"pad":"`...)
	// Pad the data object up to the requested size.
	if pad := r.cfg.Payload - (len(buf) - dataStart) - 2; pad > 0 {
		buf = append(buf, bytes.Repeat([]byte{'x'}, pad)...)
	}
	buf = append(buf, `"}}`...)
	return buf
}

// broadcast sends Rate messages per second until the schedule window
// ends, each as a request for the traffic phase's workers. Each message
// carries its scheduled send time, not the time the request went out, so
// a slow endpoint shows up as latency instead of silently lowering the
// rate (no coordinated omission).
func (r *runner) broadcast(window context.Context, staff *client.REST, start time.Time, requests chan<- request) {
	total := messagesIn(r.cfg.Rate, r.cfg.Duration)
	pace := newPacer()
	for seq := 0; seq < total; seq++ {
		at := scheduled(start, seq, r.cfg.Rate)
		if !pace.until(window, at) {
			return
		}
		room := seq % len(r.spaces)
		if !hand(window, requests, func(ctx context.Context) { r.broadcastOne(ctx, staff, seq, at, room) }) {
			return
		}
	}
}

// broadcastOne sends broadcast seq, due at, to room; the ledger expects
// it from the room's members just before it goes out.
func (r *runner) broadcastOne(ctx context.Context, staff *client.REST, seq int, at time.Time, room int) {
	body := r.broadcastBody(make([]byte, 0, r.cfg.Payload+160), seq, int64(at.Sub(r.epoch)/time.Microsecond), r.spaces[room])
	r.ledger.Expect(seq, int(r.members[room].Load()))
	r.sent.Add(1)
	t0 := time.Now()
	r.timeline.count(countSent, t0)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := staff.AdminEmitRaw(rctx, body); err != nil {
		r.ledger.Fail(seq)
		r.fail(errorKind("broadcast", err))
		return
	}
	r.adminH.Record(time.Since(t0))
}

// scheduled is when event n of a schedule of rate per second is due.
func scheduled(start time.Time, n int, rate float64) time.Time {
	return start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
}

// messagesIn is how many events a schedule of rate per second sends in d:
// one at t=0 and then every 1/rate, strictly before d.
func messagesIn(rate float64, d time.Duration) int {
	n := rate * d.Seconds()
	if c := math.Ceil(n); c-n > 1e-9 {
		return int(c)
	}
	return int(math.Round(n))
}
