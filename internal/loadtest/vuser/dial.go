package vuser

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// SocketIODialer returns a Dialer on the project's lean Socket.IO client,
// sharing one TCP dialer and one polling HTTP client across users.
func SocketIODialer() Dialer {
	// No TCP keep-alive, as Node's ws (Artillery's socketio engine)
	// dials: it saves four setsockopt calls per user, and a user's
	// connection lives far shorter than the first keep-alive probe.
	netDial := (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}).DialContext
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}}
	return func(ctx context.Context, o DialOptions) (Conn, error) {
		var onClose func(*sioclient.Conn, error)
		if o.OnClose != nil {
			onClose = func(_ *sioclient.Conn, err error) { o.OnClose(err) }
		}
		c, err := sioclient.Dial(ctx, sioclient.Options{
			URL: o.URL, Namespace: o.Namespace, Path: o.Path, Auth: o.Auth, Query: o.Query, Header: o.Header,
			Transports: o.Transports, NetDial: netDial, HTTPClient: hc, ConnectTimeout: o.Timeout,
			OnRawEvent: func(c *sioclient.Conn, payload []byte, at time.Time) {
				o.OnEvent(Event{Payload: payload, At: at, Parse: c.ParseEvent})
			},
			OnClose: onClose,
		})
		if err != nil {
			return nil, classify(err)
		}
		return c, nil
	}
}

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
