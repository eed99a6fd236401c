package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/server"
	"github.com/coworkctl/coworkctl/internal/slots"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

func timeoutServer(t *testing.T) *harness {
	t.Helper()
	return startWith(t, server.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "timeouts.db"), JWTSecret: secret, Location: time.UTC,
		Catalog:  slots.DemoCatalog(),
		Realtime: server.RealtimeConfig{Engine: eio.Config{PingInterval: 300 * time.Millisecond}},
		HTTP:     server.HTTPTimeouts{Header: 300 * time.Millisecond, Request: time.Second, Idle: 500 * time.Millisecond},
	})
}

// closedWithin reports whether the server closes conn within d (a read
// returns EOF or a reset rather than timing out).
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) bool {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func dialServer(t *testing.T, h *harness) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A slow or idle client cannot hold a connection: headers, a whole
// request (body included) and idle keep-alive connections are bounded.
func TestHTTPTimeoutsCloseSlowAndIdleClients(t *testing.T) {
	h := timeoutServer(t)
	for _, tc := range []struct {
		name, send string
	}{
		{"headers never finished", "GET /healthz HTTP/1.1\r\nHost: x\r\n"},
		{"REST body never finished", "POST /api/slots/1/hold HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"idSpazio\":"},
		{"polling body never finished", "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4hel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialServer(t, h)
			if _, err := io.WriteString(conn, tc.send); err != nil {
				t.Fatal(err)
			}
			// Request timeout 1 s: closed well before 5 s, never left open.
			if !closedWithin(t, conn, 5*time.Second) {
				t.Fatalf("connection still open 5 s after a request stalled (timeout 1 s)")
			}
		})
	}
	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dialServer(t, h)
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		resp.Body.Close()
		if !closedWithin(t, conn, 5*time.Second) {
			t.Fatal("idle keep-alive connection still open 5 s later (idle timeout 500 ms)")
		}
	})
}

// The request timeout does not cut real-time traffic: a long-poll waits
// for the next ping and a websocket lives on past it.
func TestHTTPTimeoutsSpareLongPollsAndWebsockets(t *testing.T) {
	h := timeoutServer(t)
	sid, _ := pollingHandshake(t, h.base)
	for range 5 { // 5 polls of up to one ping interval each, on fresh requests
		resp, err := http.Get(h.base + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "2") {
			t.Fatalf("long-poll: %d %q, want the ping", resp.StatusCode, body)
		}
		post, err := http.Post(h.base+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader("3"))
		if err != nil {
			t.Fatal(err)
		}
		post.Body.Close()
	}
	s := dialRaw(t, h.base, map[string]any{"token": userToken(t, 77)})
	// Round trips over 2.5 s, 2.5× the request timeout.
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		s.send(`421["ping_latency"]`)
		for {
			if p := s.next(); strings.HasPrefix(p, "431[") {
				break
			}
		}
	}
}
