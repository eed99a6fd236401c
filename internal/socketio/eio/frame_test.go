package eio

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

func TestFrameEncoding(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		data := bytes.Repeat([]byte{'x'}, n)
		for _, f := range []*Frame{TextFrame(data), BinaryFrame(data)} {
			h, err := ws.ReadHeader(bytes.NewReader(f.ws))
			if err != nil {
				t.Fatal(err)
			}
			payload := f.ws[len(f.ws)-int(h.Length):]
			want, wantOp, poll := data, ws.OpBinary, "b"+base64.StdEncoding.EncodeToString(data)
			if f.text != nil {
				want, wantOp, poll = append([]byte{'4'}, data...), ws.OpText, "4"+string(data)
			}
			if !h.Fin || h.Masked || h.OpCode != wantOp || !bytes.Equal(payload, want) || f.Len() != n {
				t.Errorf("n=%d: header %+v, payload ok %v", n, h, bytes.Equal(payload, want))
			}
			if got := string(f.pollingBytes()); got != poll {
				t.Errorf("n=%d: polling encoding differs", n)
			}
		}
	}
}

func FuzzDecodePayload(f *testing.F) {
	for _, seed := range []string{"4hello", "4hello\x1ebAQIDBA==", "2\x1e3\x1e1", "abc", "", "b", "b====", "4\x1e", "6\x1e5\x1e0"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		pkts, err := decodePayload(nil, body, 1000)
		if err != nil {
			return
		}
		// Re-encoding what was decoded gives the input back, modulo base64 padding forms.
		var enc [][]byte
		for _, p := range pkts {
			if p.typ < '0' || p.typ > '6' {
				t.Fatalf("packet type %q", p.typ)
			}
			if p.binary {
				enc = append(enc, []byte("b"+base64.StdEncoding.EncodeToString(p.data)))
			} else {
				enc = append(enc, append([]byte{p.typ}, p.data...))
			}
		}
		if got := bytes.Join(enc, []byte{recordSeparator}); !bytes.Equal(got, orig) {
			t.Fatalf("round trip %q -> %q", orig, got)
		}
	})
}

func FuzzParseTextPacket(f *testing.F) {
	for _, seed := range []string{"4hello", "2probe", "5", "", "7", "abc"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		pkt, err := parseTextPacket(p)
		if err != nil {
			return
		}
		if pkt.typ != p[0] || !bytes.Equal(pkt.data, p[1:]) {
			t.Fatalf("parse %q = %+v", p, pkt)
		}
	})
}

// FuzzWebsocketReader feeds arbitrary client bytes to a session's reader:
// it must not panic or hang, and must end the session.
func FuzzWebsocketReader(f *testing.F) {
	masked := func(fr ws.Frame) []byte {
		var b bytes.Buffer
		_ = ws.WriteFrame(&b, ws.MaskFrame(fr))
		return b.Bytes()
	}
	f.Add(masked(ws.NewTextFrame([]byte("4hello"))))
	f.Add(append(masked(ws.NewFrame(ws.OpText, false, []byte("4a"))), masked(ws.NewFrame(ws.OpContinuation, true, []byte("b")))...))
	f.Add(masked(ws.NewPingFrame([]byte("x"))))
	f.Add(masked(ws.NewBinaryFrame([]byte{1, 2})))
	f.Add(masked(ws.NewCloseFrame(nil)))
	f.Add(ws.MustCompileFrame(ws.NewTextFrame([]byte("4unmasked"))))
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := NewServer(Config{MaxPayload: 1 << 10, Logger: slog.New(slog.DiscardHandler), OnSession: func(*Session) Handler { return nil }})
		server, client := net.Pipe()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		defer client.Close()
		s := newSession(srv, httptest.NewRequest("GET", "/?EIO=4", nil))
		s.h, s.websocket, s.conn = nopHandler{}, true, server
		srv.register(s)
		s.readLoop(server, bytes.NewReader(in), false)
		s.end(ReasonTransportClose, nil) // the input may end mid-session; a real conn would EOF too
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state != stateEnded {
			t.Fatal("session not ended")
		}
	})
}

// discardConn accepts every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) LocalAddr() net.Addr              { return nil }
func (discardConn) RemoteAddr() net.Addr             { return nil }

// BenchmarkBroadcast queues one shared frame to many websocket sessions
// whose writers drain to a discarding conn.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			srv := NewServer(Config{Logger: slog.New(slog.DiscardHandler), OnSession: func(*Session) Handler { return nil }})
			sessions := make([]*Session, n)
			req := httptest.NewRequest("GET", "/?EIO=4", nil)
			for i := range sessions {
				s := newSession(srv, req)
				s.h, s.websocket, s.conn = nopHandler{}, true, discardConn{}
				sessions[i] = s
			}
			payload := bytes.Repeat([]byte("x"), 200)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				f := TextFrame(payload)
				for _, s := range sessions {
					if err := s.Send(f); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			var wg sync.WaitGroup
			for _, s := range sessions {
				wg.Go(func() {
					for {
						s.mu.Lock()
						idle := !s.writing
						s.mu.Unlock()
						if idle {
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
