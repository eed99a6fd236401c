package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
	"golang.org/x/sync/errgroup"
)

// runConnect is the connect phase: it opens every client at ConnectRate
// and joins it to its room, at most 256 handshakes in flight, and returns
// when each has connected and joined or failed.
func (r *runner) runConnect(ctx context.Context) error {
	cfg := r.cfg
	pollHTTP := &http.Client{
		Timeout: 90 * time.Second, // beyond any sane pingInterval+pingTimeout
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4096,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	nPolling := int(cfg.PollingShare*float64(cfg.Clients) + 0.5)
	r.vus = make([]*vu, cfg.Clients)
	var handshakes errgroup.Group
	handshakes.SetLimit(256)
	var interval time.Duration
	if cfg.ConnectRate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.ConnectRate)
	}
	pace := newPacer()
	start := time.Now()
	var tokenErr error
	for i := 0; i < cfg.Clients; i++ {
		if interval > 0 {
			pace.until(ctx, start.Add(time.Duration(i)*interval))
		}
		if ctx.Err() != nil {
			break
		}
		tok, err := cfg.ClientToken(i)
		if err != nil {
			tokenErr = fmt.Errorf("load test: token of client %d: %w", i, err)
			break
		}
		v := &vu{index: i, token: tok, room: i % len(r.spaces)}
		r.vus[i] = v
		transport := sioclient.TransportWebSocket
		// Spread polling clients evenly rather than bunching them.
		if nPolling > 0 && (i*nPolling)/cfg.Clients != ((i+1)*nPolling)/cfg.Clients {
			transport = sioclient.TransportPolling
		}
		handshakes.Go(func() error {
			r.connectOne(ctx, v, transport, pollHTTP)
			return nil
		})
	}
	_ = handshakes.Wait()
	if tokenErr != nil {
		return tokenErr
	}
	return ctx.Err()
}

func (r *runner) connectOne(ctx context.Context, v *vu, transport string, pollHTTP *http.Client) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := sioclient.Dial(ctx, sioclient.Options{
		URL: r.cfg.Server, Auth: map[string]string{"token": v.token}, Transports: []string{transport},
		HTTPClient: pollHTTP, ConnectTimeout: r.cfg.ConnectTimeout, OnRawEvent: r.onEvent, OnClose: r.onClose,
	})
	if err != nil {
		r.fail(errorKind("connect", err))
		return
	}
	r.connectH.Record(time.Since(t0))
	r.timeline.count(countConnect, time.Now())
	c.Data = v
	v.conn = c
	r.connected.Add(1)
	sp := r.spaces[v.room]
	ack, err := c.EmitWithAck(ctx, protocol.EventJoinSpace, map[string]any{"spazioId": sp.SpazioID, "sedeId": sp.SedeID})
	if err != nil {
		r.fail(errorKind("join", err))
		return
	}
	var first protocol.Ack
	if len(ack) == 0 || json.Unmarshal(ack[0], &first) != nil || !first.Success {
		r.fail("join_rejected")
		return
	}
	v.joined.Store(true)
	r.members[v.room].Add(1)
	if isDone(c) && v.joined.Swap(false) {
		// It closed between the ack and now; onClose missed the join.
		r.members[v.room].Add(-1)
	}
}
