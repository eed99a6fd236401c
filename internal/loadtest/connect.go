package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coworkctl/coworkctl/internal/protocol"
	sioclient "github.com/coworkctl/coworkctl/internal/socketio/client"
)

// connectAll opens every client at the configured rate and joins it to its
// room; it returns when each has connected and joined or failed.
func (r *runner) connectAll(ctx context.Context) error {
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
	var wg sync.WaitGroup
	limit := make(chan struct{}, 256)
	var interval time.Duration
	if cfg.ConnectRate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.ConnectRate)
	}
	start := time.Now()
	for i := 0; i < cfg.Clients; i++ {
		if ctx.Err() != nil {
			break
		}
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		tok, err := cfg.ClientToken(i)
		if err != nil {
			return fmt.Errorf("load test: token of client %d: %w", i, err)
		}
		v := &vu{index: i, token: tok, room: i % len(r.spaces)}
		r.vus[i] = v
		transport := sioclient.TransportWebSocket
		// Spread polling clients evenly rather than bunching them.
		if nPolling > 0 && (i*nPolling)/cfg.Clients != ((i+1)*nPolling)/cfg.Clients {
			transport = sioclient.TransportPolling
		}
		limit <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-limit }()
			r.connectOne(ctx, v, transport, pollHTTP)
		}()
	}
	wg.Wait()
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
