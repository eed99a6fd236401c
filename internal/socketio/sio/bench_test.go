package sio

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

// nopConn is a session that accepts and forgets frames.
type nopConn struct{ h eio.Handler }

func (nopConn) ID() string               { return "nop" }
func (nopConn) Transport() string        { return "websocket" }
func (nopConn) Request() *http.Request   { return nil }
func (nopConn) ReleaseRequest()          {}
func (nopConn) Send(...*eio.Frame) error { return nil }
func (c *nopConn) Close(reason string)   { c.h.OnClose(reason) }

// BenchmarkBroadcast: one broadcast to a room of 1,000 sockets; the
// allocations per op do not grow with the recipients.
func BenchmarkBroadcast(b *testing.B) {
	for _, window := range []time.Duration{0, time.Minute} {
		b.Run(fmt.Sprintf("recovery=%v", window > 0), func(b *testing.B) {
			s := testServer(b, Config{Recovery: Recovery{Window: window}})
			ns := s.Of("/")
			for i := range 1000 {
				c := &nopConn{}
				c.h = s.newClient(c)
				c.h.OnMessage([]byte("0"), false)
				for _, sk := range c.h.(*client).socketList() {
					sk.Join(fmt.Sprint("room", i%4), "all")
				}
			}
			payload := map[string]any{"slot": 12.0, "state": "held", "by": "ann"}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = ns.To("all").Except("room3").Emit("slot_update", payload)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/750, "ns/recipient")
		})
	}
}
