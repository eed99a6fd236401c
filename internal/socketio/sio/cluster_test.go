package sio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
	"github.com/coworkctl/coworkctl/internal/socketio/eio"
)

type fakeCluster struct {
	mu        sync.Mutex
	published []adapter.Packet
	opts      []adapter.Options
	remote    []adapter.SocketInfo
	fetchErr  error
	ran       adapter.Node
}

func (f *fakeCluster) Run(ctx context.Context, node adapter.Node) error {
	f.mu.Lock()
	f.ran = node
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (f *fakeCluster) Publish(_ context.Context, p adapter.Packet, opts adapter.Options) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, p)
	f.opts = append(f.opts, opts)
	return nil
}

func (f *fakeCluster) FetchSockets(_ context.Context, nsp string, opts adapter.Options) ([]adapter.SocketInfo, error) {
	return f.remote, f.fetchErr
}

func (f *fakeCluster) Healthy() error { return nil }

type user struct {
	Name string `json:"name"`
}

func TestCluster(t *testing.T) {
	cl := &fakeCluster{remote: []adapter.SocketInfo{{ID: "remote1", Rooms: []string{"r"}}}}
	s := testServer(t, Config{Cluster: cl})
	ns := s.Of("/")
	ns.Use(func(h *Handshake) (any, error) { return user{Name: "ann"}, nil })
	c, sk := connectTo(t, s, "/", "")
	sk.Join("r")

	if err := ns.To("r").Except("x").Emit("u", 1, user{Name: "bob"}, []byte{1}); err != nil {
		t.Fatal(err)
	}
	_ = ns.To("r").Local().Emit("local-only")
	if got := len(c.take()); got != 3 {
		t.Errorf("local delivery: %d frames", got)
	}
	want := adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/", Data: []any{"u", 1.0, map[string]any{"name": "bob"}, []byte{1}}}
	if len(cl.published) != 1 || !reflect.DeepEqual(cl.published[0], want) {
		t.Errorf("published %+v, want %+v", cl.published, want)
	}
	if o := cl.opts[0]; !reflect.DeepEqual(o.Rooms, []string{"r"}) || !reflect.DeepEqual(o.Except, []string{"x"}) {
		t.Errorf("opts %+v", o)
	}

	s.DeliverLocal(adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"from-peer", "x"}}, adapter.Options{Rooms: []string{"r"}})
	s.DeliverLocal(adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"from-peer"}}, adapter.Options{Rooms: []string{"r"}, Except: []string{sk.ID()}})
	s.DeliverLocal(adapter.Packet{Type: adapter.PacketEvent, Nsp: "/nowhere", Data: []any{"x"}}, adapter.Options{})
	if got := c.take(); !reflect.DeepEqual(got, []string{`2["from-peer","x"]`}) {
		t.Errorf("delivered %q", got)
	}
	if len(cl.published) != 1 {
		t.Error("a delivered packet was published again")
	}

	infos, err := ns.FetchSockets(context.Background(), "r")
	if err != nil || len(infos) != 2 || infos[0].ID != sk.ID() || infos[1].ID != "remote1" {
		t.Errorf("fetch %+v %v", infos, err)
	}
	if d := infos[0].Data; !reflect.DeepEqual(d, map[string]any{"name": "ann"}) {
		t.Errorf("data %#v", d)
	}
	if got := s.LocalSockets("/", adapter.Options{Rooms: []string{"r"}, Except: []string{"r"}}); len(got) != 0 {
		t.Errorf("except: %v", got)
	}
	cl.fetchErr = adapter.ErrUnavailable
	if _, err := ns.FetchSockets(context.Background()); !errors.Is(err, adapter.ErrUnavailable) {
		t.Errorf("fetch error %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if cl.ran != s {
		t.Error("cluster not run with the server as node")
	}
}

// TestConcurrentUse runs broadcasts, emits, joins, drops and recoveries
// at once, for the race detector.
func TestConcurrentUse(t *testing.T) {
	e := newRecoveryEnv(t, Recovery{Window: time.Minute, MaxPackets: 50})
	ns := e.ns
	ns.OnConnection(func(sk *Socket) { sk.OnDisconnect(func(string) {}) })
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 3 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				room := fmt.Sprint("r", n%4)
				_ = ns.To(room).Except("r3").Emit("b", n)
				_ = ns.Emit("all", i)
				ns.RoomSize(room)
			}
		})
	}
	// The broadcasters race the churners for as long as these churn.
	var churners sync.WaitGroup
	for range 4 {
		churners.Go(func() {
			for n := range 100 {
				c, sk, reply, _ := e.connectQuiet()
				sk.Join(fmt.Sprint("r", n%4))
				_ = sk.Emit("direct")
				frames := c.take()
				c.drop(eio.ReasonTransportClose)
				auth := map[string]any{"pid": reply["pid"]}
				if len(frames) > 0 {
					if off, ok := lastString(frames[len(frames)-1]); ok {
						auth["offset"] = off
					}
				}
				c2, sk2, _, _ := e.connectWith(auth)
				sk2.Leave(fmt.Sprint("r", n%4))
				if n%2 == 0 {
					sk2.Disconnect(true)
				} else {
					c2.drop(eio.ReasonParseError)
				}
			}
		})
	}
	churners.Wait()
	close(stop)
	wg.Wait()
	if ns.SocketCount() != 0 || len(ns.rooms) != 0 || e.s.Sessions() != 0 {
		t.Errorf("left: %d sockets, %d rooms, %d sessions", ns.SocketCount(), len(ns.rooms), e.s.Sessions())
	}
}

// connectQuiet and connectWith connect without touching shared state.
func (e *recoveryEnv) connectQuiet() (*fakeConn, *Socket, map[string]string, []string) {
	return e.connectWith(nil)
}

func (e *recoveryEnv) connectWith(auth map[string]any) (*fakeConn, *Socket, map[string]string, []string) {
	c := dial(e.s)
	payload := ""
	if auth != nil {
		b, _ := json.Marshal(auth)
		payload = string(b)
	}
	c.recv("0" + payload)
	sk := c.handler().(*client).socketList()[0]
	got := c.take()
	var reply map[string]string
	if err := json.Unmarshal([]byte(got[0][1:]), &reply); err != nil {
		e.t.Errorf("reply %q: %v", got[0], err)
	}
	return c, sk, reply, got[1:]
}

func lastString(frame string) (string, bool) {
	var args []any
	if len(frame) < 2 || json.Unmarshal([]byte(frame[1:]), &args) != nil || len(args) == 0 {
		return "", false
	}
	s, ok := args[len(args)-1].(string)
	return s, ok
}

// ctxCluster records the context each Publish gets and fails as it would
// on a context that ended.
type ctxCluster struct {
	fakeCluster
	got []context.Context
}

func (c *ctxCluster) Publish(ctx context.Context, p adapter.Packet, opts adapter.Options) error {
	c.mu.Lock()
	c.got = append(c.got, ctx)
	c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.fakeCluster.Publish(ctx, p, opts)
}

// TestEmitContextReachesTheCluster: the caller's context (its values and
// its end) reaches the cluster's Publish, bounded by publishTimeout;
// local delivery happens whatever the context.
func TestEmitContextReachesTheCluster(t *testing.T) {
	cl := &ctxCluster{}
	s := testServer(t, Config{Cluster: cl})
	ns := s.Of("/")
	c, sk := connectTo(t, s, "/", "")
	sk.Join("r")
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "request 7")

	if err := ns.To("r").EmitContext(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	got := cl.got[0]
	if got.Value(key{}) != "request 7" {
		t.Error("the caller's context did not reach Publish")
	}
	if dl, ok := got.Deadline(); !ok || time.Until(dl) > publishTimeout {
		t.Errorf("Publish's deadline %v (set %v), want within %v", dl, ok, publishTimeout)
	}

	ended, cancel := context.WithCancel(ctx)
	cancel()
	err := ns.To("r").EmitContext(ended, "b")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("emit on an ended context: %v, want context.Canceled", err)
	}
	if sent := c.take(); len(sent) != 2 {
		t.Errorf("local delivery: %q, want both events", sent)
	}
	if len(cl.published) != 1 {
		t.Errorf("published %d packets, want only the first", len(cl.published))
	}
}
