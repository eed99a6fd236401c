package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/coworkctl/coworkctl/internal/socketio/sio"
)

// rawServer accepts one websocket on a TCP listener and runs script on
// it; script's error, if any, fails the test when it ends.
func rawServer(t *testing.T, script func(conn net.Conn) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		if _, err := ws.Upgrade(conn); err != nil {
			done <- err
			return
		}
		done <- script(conn)
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// readClientFrame reads one frame from the client and checks it is masked.
func readClientFrame(conn net.Conn) (ws.Frame, error) {
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f ws.Frame
	h, err := ws.ReadHeader(conn)
	if err != nil {
		return f, err
	}
	if !h.Masked || h.Length > 1<<10 {
		return f, fmt.Errorf("client frame %+v: want masked and small", h)
	}
	f = ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	if _, err := io.ReadFull(conn, f.Payload); err != nil {
		return f, err
	}
	return ws.UnmaskFrameInPlace(f), nil
}

// The client reassembles fragments, answers a ping between them, skips
// binary messages, and reports the server's close frame as a transport
// close after echoing its code.
func TestWebSocketFrames(t *testing.T) {
	base := rawServer(t, func(conn net.Conn) error {
		open := `0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}`
		for _, f := range []ws.Frame{
			ws.NewFrame(ws.OpText, false, []byte(open[:10])),
			ws.NewPingFrame([]byte("hi")),
			ws.NewFrame(ws.OpContinuation, true, []byte(open[10:])),
		} {
			if err := ws.WriteFrame(conn, f); err != nil {
				return err
			}
		}
		pong, err := readClientFrame(conn)
		if err != nil || pong.Header.OpCode != ws.OpPong || string(pong.Payload) != "hi" {
			return fmt.Errorf("want pong hi, got %v %q (%v)", pong.Header.OpCode, pong.Payload, err)
		}
		connect, err := readClientFrame(conn)
		if err != nil || connect.Header.OpCode != ws.OpText || !strings.HasPrefix(string(connect.Payload), "40") {
			return fmt.Errorf("want CONNECT, got %v %q (%v)", connect.Header.OpCode, connect.Payload, err)
		}
		big := `42["news","` + strings.Repeat("x", 70_000) + `"]`
		for _, f := range []ws.Frame{
			ws.NewTextFrame([]byte(`40{"sid":"x"}`)),
			ws.NewBinaryFrame([]byte{1, 2, 3}),
			ws.NewTextFrame([]byte(big)),
			ws.NewTextFrame([]byte(`42["news","small"]`)),
			ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "bye")),
		} {
			if err := ws.WriteFrame(conn, f); err != nil {
				return err
			}
		}
		echo, err := readClientFrame(conn)
		if err != nil || echo.Header.OpCode != ws.OpClose {
			return fmt.Errorf("want a close echo, got %v (%v)", echo.Header.OpCode, err)
		}
		if code, _ := ws.ParseCloseFrameData(echo.Payload); code != ws.StatusGoingAway {
			return fmt.Errorf("close echo code %d, want %d", code, ws.StatusGoingAway)
		}
		return nil
	})
	events := make(chan Event, 4)
	closed := make(chan error, 1)
	c, err := Dial(context.Background(), Options{URL: base, ConnectTimeout: 5 * time.Second,
		OnEvent: func(_ *Conn, e Event) { events <- e },
		OnClose: func(_ *Conn, err error) { closed <- err },
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if c.SID() != "s1" || c.ID() != "x" {
		t.Fatalf("sid %q id %q, want s1 and x", c.SID(), c.ID())
	}
	for _, want := range []int{70_002, 7} {
		select {
		case e := <-events:
			if e.Name != "news" || len(e.Args) != 1 || len(e.Args[0]) != want {
				t.Fatalf("event %s with %d args, want news with one of %d bytes", e.Name, len(e.Args), want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no news event")
		}
	}
	select {
	case err := <-closed:
		var ce wsutil.ClosedError
		if !errors.As(err, &ce) || ce.Code != ws.StatusGoingAway || ce.Reason != "bye" || Reason(err) != "transport close" {
			t.Fatalf("OnClose(%v), want the server's close 1001 bye as a transport close", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no close after the server's close frame")
	}
}

// proxy is an HTTP proxy that tunnels one CONNECT, or refuses it.
func proxy(t *testing.T, refuse bool) (addr string, requests <-chan *http.Request) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	reqs := make(chan *http.Request, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		reqs <- req
		if refuse {
			_, _ = io.WriteString(conn, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
			return
		}
		up, err := net.Dial("tcp", req.Host)
		if err != nil {
			return
		}
		defer up.Close()
		_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { _, _ = io.Copy(up, conn) }()
		_, _ = io.Copy(conn, up)
	}()
	return ln.Addr().String(), reqs
}

func TestWebSocketThroughProxy(t *testing.T) {
	base := newServer(t, sio.Config{})
	target, _ := url.Parse(base)
	addr, reqs := proxy(t, false)
	c, err := Dial(context.Background(), Options{URL: base, Auth: map[string]string{"token": "good"},
		Proxy: func(*http.Request) (*url.URL, error) { return url.Parse("http://ann:secret@" + addr) }})
	if err != nil {
		t.Fatalf("Dial through the proxy: %v", err)
	}
	defer c.Close()
	req := <-reqs
	if req.Method != http.MethodConnect || req.Host != target.Host {
		t.Fatalf("proxy got %s %s, want CONNECT %s", req.Method, req.Host, target.Host)
	}
	if got := req.Header.Get("Proxy-Authorization"); got != "Basic YW5uOnNlY3JldA==" {
		t.Fatalf("Proxy-Authorization %q, want the proxy URL's credentials", got)
	}
	if ack, err := c.EmitWithAck(context.Background(), "echo", "through"); err != nil || len(ack) != 1 || string(ack[0]) != `"through"` {
		t.Fatalf("echo through the proxy = %s, %v", ack, err)
	}

	addr, _ = proxy(t, true)
	_, err = Dial(context.Background(), Options{URL: base, Auth: map[string]string{"token": "good"},
		Proxy: func(*http.Request) (*url.URL, error) { return url.Parse("http://" + addr) }})
	if err == nil || !strings.Contains(err.Error(), "407") {
		t.Fatalf("Dial through a refusing proxy = %v, want its 407", err)
	}
}

// BenchmarkDialEmitClose is one load-test virtual user's connection: dial
// a websocket, CONNECT, one event with its ack, close. The server runs in
// the same process, so compare allocations and time between client
// versions, not with other benchmarks.
func BenchmarkDialEmitClose(b *testing.B) {
	base := newServer(b, sio.Config{})
	ctx := context.Background()
	for b.Loop() {
		c, err := Dial(ctx, Options{URL: base, Auth: map[string]string{"token": "good"}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.EmitWithAck(ctx, "echo", map[string]int{"spazioId": 1}); err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}

// socksProxy is a SOCKS5 proxy (RFC 1928, with RFC 1929 username and
// password when the client offers it) that relays one CONNECT and
// reports the target and credentials it got.
func socksProxy(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	report := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		read := func(n int) []byte {
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil
			}
			return b
		}
		hello := read(2)
		if hello == nil || hello[0] != 5 {
			return
		}
		methods := read(int(hello[1]))
		cred := ""
		if bytes.IndexByte(methods, 2) >= 0 {
			_, _ = conn.Write([]byte{5, 2})
			ver := read(2)
			if ver == nil {
				return
			}
			user := string(read(int(ver[1])))
			plen := read(1)
			if plen == nil {
				return
			}
			cred = user + ":" + string(read(int(plen[0]))) + "@"
			_, _ = conn.Write([]byte{1, 0})
		} else {
			_, _ = conn.Write([]byte{5, 0})
		}
		req := read(4) // VER CMD RSV ATYP
		if req == nil || req[1] != 1 {
			return
		}
		var host string
		switch req[3] {
		case 1:
			host = net.IP(read(4)).String()
		case 3:
			n := read(1)
			if n == nil {
				return
			}
			host = string(read(int(n[0])))
		default:
			return
		}
		port := read(2)
		if port == nil {
			return
		}
		target := net.JoinHostPort(host, strconv.Itoa(int(port[0])<<8|int(port[1])))
		report <- cred + target
		up, err := net.Dial("tcp", target)
		if err != nil {
			_, _ = conn.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		defer up.Close()
		_, _ = conn.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
		go func() { _, _ = io.Copy(up, r) }()
		_, _ = io.Copy(conn, up)
	}()
	return ln.Addr().String(), report
}

// A socks5:// proxy from the environment carries websockets, as it did
// with gorilla's dialer and as net/http carries polling through it.
func TestWebSocketThroughSOCKS5(t *testing.T) {
	base := newServer(t, sio.Config{})
	target, _ := url.Parse(base)
	for _, tc := range []struct{ proxyURL, wantPrefix string }{
		{"socks5://%s", ""},
		{"socks5h://ann:secret@%s", "ann:secret@"},
	} {
		addr, got := socksProxy(t)
		c, err := Dial(context.Background(), Options{URL: base, Auth: map[string]string{"token": "good"}, Transports: []string{TransportWebSocket},
			Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(fmt.Sprintf(tc.proxyURL, addr)) }})
		if err != nil {
			t.Fatalf("Dial through %s: %v", tc.proxyURL, err)
		}
		if g := <-got; g != tc.wantPrefix+target.Host {
			t.Errorf("%s: the proxy got %q, want %q", tc.proxyURL, g, tc.wantPrefix+target.Host)
		}
		if ack, err := c.EmitWithAck(context.Background(), "echo", "socks"); err != nil || len(ack) != 1 || string(ack[0]) != `"socks"` {
			t.Errorf("%s: echo = %s, %v", tc.proxyURL, ack, err)
		}
		_ = c.Close()
	}
}
