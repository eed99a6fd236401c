package vuser

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// SocketIODialer returns a Dialer on the project's lean Socket.IO client,
// sharing one websocket dialer and one polling HTTP client across users.
func SocketIODialer() Dialer {
	ws := &websocket.Dialer{
		// No TCP keep-alive, as Node's ws (Artillery's socketio engine)
		// dials: it saves four setsockopt calls per user, and a user's
		// connection lives far shorter than the first keep-alive probe.
		NetDialContext:   (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}).DialContext,
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  1024,
		WriteBufferPool:  &websocketPool{},
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}}
	return func(ctx context.Context, o DialOptions) (Conn, error) {
		var onClose func(*sioclient.Conn, error)
		if o.OnClose != nil {
			onClose = func(_ *sioclient.Conn, err error) { o.OnClose(err) }
		}
		c, err := sioclient.Dial(ctx, sioclient.Options{
			URL: o.URL, Namespace: o.Namespace, Path: o.Path, Auth: o.Auth, Query: o.Query, Header: o.Header,
			Transports: o.Transports, Dialer: ws, HTTPClient: hc, ConnectTimeout: o.Timeout,
			OnEvent: func(_ *sioclient.Conn, e sioclient.Event) { o.OnEvent(e.Name, e.Args, e.At) },
			OnClose: onClose,
		})
		if err != nil {
			return nil, classify(err)
		}
		return c, nil
	}
}

// websocketPool shares write buffers between idle connections.
type websocketPool struct{ p sync.Pool }

func (w *websocketPool) Get() any  { return w.p.Get() }
func (w *websocketPool) Put(x any) { w.p.Put(x) }

// refusal is a CONNECT the server refused, with its reason.
type refusal struct{ err *sioclient.ConnectError }

func (r refusal) Error() string          { return r.err.Error() }
func (r refusal) Unwrap() error          { return r.err }
func (r refusal) ConnectMessage() string { return r.err.Message }

func classify(err error) error {
	var ce *sioclient.ConnectError
	if errors.As(err, &ce) {
		return refusal{ce}
	}
	return err
}

var _ Conn = (*sioclient.Conn)(nil)
