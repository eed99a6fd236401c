package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	xproxy "golang.org/x/net/proxy"
)

// readBufferSize is a websocket's read buffer: it holds most Engine.IO
// packets whole, and a connection keeps it while idle.
const readBufferSize = 2048

// wsTransport carries one Engine.IO packet per websocket text frame. The
// handshake is one request written in one piece and a response parsed in
// place (gobwas/ws), without net/http's request and header maps: a load
// generator pays it for every virtual user.
type wsTransport struct {
	conn net.Conn
	rd   *bufio.Reader

	wmu  sync.Mutex // one frame per Write: the reader answers pings and closes too
	wbuf []byte     // guarded by wmu; dropped when large

	hdr [ws.MaxHeaderSize - 2]byte // ReadHeaderBuffer's scratch
	msg []byte                     // the message being read, reused
	one [1][]byte
}

// netDialer dials when Options.NetDial is nil.
var netDialer = &net.Dialer{Timeout: 10 * time.Second}

func dialWebSocket(ctx context.Context, o *Options, ep *endpoint, sid string) (*wsTransport, error) {
	u := ep.wsURL(sid)
	conn, err := dialTCP(ctx, o.NetDial, o.Proxy, u)
	if err != nil {
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	t, err := upgrade(ctx, conn, u, ep.header)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("websocket dial: %w", err)
	}
	return t, nil
}

// dialTCP connects to u's host, through the proxy that proxyFor names
// for u if any (HTTP CONNECT, or SOCKS5 as net/http also takes from the
// environment), and starts TLS for wss.
func dialTCP(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), proxyFor func(*http.Request) (*url.URL, error), u *url.URL) (net.Conn, error) {
	if dial == nil {
		dial = netDialer.DialContext
	}
	if proxyFor == nil {
		proxyFor = http.ProxyFromEnvironment
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(host, port)
	proxy, err := proxyFor(&http.Request{URL: &url.URL{Scheme: map[string]string{"ws": "http", "wss": "https"}[u.Scheme], Host: addr}})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	var conn net.Conn
	switch {
	case proxy == nil:
		conn, err = dial(ctx, "tcp", addr)
	case proxy.Scheme == "socks5" || proxy.Scheme == "socks5h":
		conn, err = dialSOCKS(ctx, dial, proxy, addr)
	default:
		conn, err = dialProxy(ctx, dial, proxy, addr)
	}
	if err != nil {
		return nil, err
	}
	if u.Scheme == "wss" {
		tc := tls.Client(conn, &tls.Config{ServerName: host})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		conn = tc
	}
	return conn, nil
}

// dialSOCKS opens a connection to addr through a SOCKS5 proxy, with the
// proxy URL's credentials if it has any.
func dialSOCKS(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), proxy *url.URL, addr string) (net.Conn, error) {
	d, err := xproxy.FromURL(proxy, contextDialer(dial))
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxy.Redacted(), err)
	}
	cd, ok := d.(xproxy.ContextDialer)
	if !ok {
		return nil, fmt.Errorf("proxy %s: its dialer takes no context", proxy.Redacted())
	}
	conn, err := cd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxy.Redacted(), err)
	}
	return conn, nil
}

// contextDialer is a dial function as the dialer a SOCKS5 proxy dials
// through.
type contextDialer func(ctx context.Context, network, addr string) (net.Conn, error)

func (f contextDialer) Dial(network, addr string) (net.Conn, error) {
	return f(context.Background(), network, addr)
}

func (f contextDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}

// dialProxy opens a tunnel to addr through an HTTP proxy (CONNECT).
func dialProxy(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), proxy *url.URL, addr string) (net.Conn, error) {
	if proxy.Scheme != "http" {
		return nil, fmt.Errorf("proxy %s: only http:// proxies carry websockets", proxy.Redacted())
	}
	paddr := proxy.Host
	if proxy.Port() == "" {
		paddr = net.JoinHostPort(proxy.Hostname(), "80")
	}
	conn, err := dial(ctx, "tcp", paddr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", proxy.Redacted(), err)
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		req.SetBasicAuth(u.Username(), pw)
		req.Header["Proxy-Authorization"] = req.Header["Authorization"]
		delete(req.Header, "Authorization")
	}
	br := bufio.NewReader(conn)
	err = req.Write(conn)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("CONNECT answered %s", resp.Status)
		} else if br.Buffered() > 0 {
			err = errors.New("CONNECT answer followed by unexpected bytes")
		}
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", proxy.Redacted(), err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// upgrade runs the websocket handshake on conn within ctx's deadline.
func upgrade(ctx context.Context, conn net.Conn, u *url.URL, header http.Header) (*wsTransport, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	var refused *HTTPError
	d := ws.Dialer{
		ReadBufferSize: readBufferSize,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			refused = &HTTPError{StatusCode: status}
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				body, _ := io.ReadAll(io.LimitReader(r.Body, 512))
				refused.Body = string(body)
			}
		},
	}
	if len(header) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(header)
	}
	br, _, err := d.Upgrade(conn, u)
	if err != nil {
		if refused != nil {
			return nil, refused
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if br == nil {
		// The server sent nothing behind its answer yet.
		br = bufio.NewReaderSize(conn, readBufferSize)
	}
	return &wsTransport{conn: conn, rd: br}, nil
}

func (t *wsTransport) name() string { return TransportWebSocket }

func (t *wsTransport) send(pkt []byte) error {
	return t.writeFrame(ws.OpText, pkt)
}

// writeFrame writes one masked frame in one Write.
func (t *wsTransport) writeFrame(op ws.OpCode, p []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	b := appendClientFrame(t.wbuf[:0], op, p)
	_ = t.conn.SetWriteDeadline(time.Now().Add(sendTimeout))
	_, err := t.conn.Write(b)
	if cap(b) <= 4<<10 {
		t.wbuf = b
	} else {
		t.wbuf = nil // do not keep a large buffer per idle connection
	}
	return err
}

// appendClientFrame appends a final frame with payload p, masked as a
// client must.
func appendClientFrame(dst []byte, op ws.OpCode, p []byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, 0x80|126), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, 0x80|127), uint64(n))
	}
	mask := ws.NewMask()
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

func (t *wsTransport) recv(deadline time.Time) ([][]byte, time.Time, error) {
	_ = t.conn.SetReadDeadline(deadline)
	t.msg = t.msg[:0]
	text, started := false, false
	for {
		h, err := ws.ReadHeaderBuffer(t.rd, t.hdr[:])
		if err != nil {
			return nil, time.Time{}, err
		}
		if h.Masked || h.Rsv != 0 || h.Length > 1<<30 {
			return nil, time.Time{}, t.fail(ws.StatusProtocolError, fmt.Errorf("websocket: bad frame header %+v", h))
		}
		if h.OpCode.IsControl() {
			if err := t.control(h); err != nil {
				return nil, time.Time{}, err
			}
			continue
		}
		switch {
		case h.OpCode == ws.OpContinuation && !started,
			h.OpCode != ws.OpContinuation && started:
			return nil, time.Time{}, t.fail(ws.StatusProtocolError, errors.New("websocket: bad fragment"))
		case !started:
			text, started = h.OpCode == ws.OpText, true
		}
		at := time.Now()
		n := len(t.msg)
		t.msg = append(t.msg, make([]byte, h.Length)...)
		if _, err := io.ReadFull(t.rd, t.msg[n:]); err != nil {
			return nil, time.Time{}, err
		}
		if !h.Fin {
			continue
		}
		if !text {
			// Binary attachments are not supported: skip them.
			t.msg, started = t.msg[:0], false
			continue
		}
		if cap(t.msg) > 64<<10 {
			// Do not keep a large buffer per idle connection.
			t.one[0] = t.msg
			t.msg = nil
		} else {
			t.one[0] = t.msg
		}
		return t.one[:], at, nil
	}
}

// control handles a ping, pong or close frame from the server.
func (t *wsTransport) control(h ws.Header) error {
	if !h.Fin || h.Length > 125 {
		return t.fail(ws.StatusProtocolError, errors.New("websocket: bad control frame"))
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(t.rd, p); err != nil {
		return err
	}
	switch h.OpCode {
	case ws.OpPing:
		return t.writeFrame(ws.OpPong, p)
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		var echo []byte // a close without a code is answered without one
		if code != 0 {
			echo = ws.NewCloseFrameBody(code, "")
		}
		_ = t.writeFrame(ws.OpClose, echo)
		return wsutil.ClosedError{Code: code, Reason: reason}
	}
	return nil
}

// fail tells the server why the connection ends and returns err.
func (t *wsTransport) fail(code ws.StatusCode, err error) error {
	_ = t.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, ""))
	return err
}

func (t *wsTransport) close() error { return t.conn.Close() }
