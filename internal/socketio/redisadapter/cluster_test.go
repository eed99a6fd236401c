package redisadapter

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

func TestBroadcastBetweenGoNodes(t *testing.T) {
	opt := redisOptions(t)
	prefix := testPrefix()
	a := New(Config{Client: newClient(t, opt), Prefix: prefix, Namespaces: []string{"/", "/admin"}, Logger: quietLogger()})
	b := New(Config{Client: newClient(t, opt), Prefix: prefix, Namespaces: []string{"/", "/admin"}, Logger: quietLogger()})
	nodeA, nodeB := newFakeNode(), newFakeNode()
	startCluster(t, a, nodeA)
	startCluster(t, b, nodeB)
	ctx := context.Background()

	tests := []struct {
		name string
		p    adapter.Packet
		opts adapter.Options
		want delivery
	}{
		{
			name: "all",
			p:    adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"hello", "world"}},
			want: delivery{adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"hello", "world"}},
				adapter.Options{Rooms: []string{}, Except: []string{}}},
		},
		{
			name: "one room, struct data",
			p:    adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"slot_update", slotUpdate{Slot: 2, Status: "free"}}},
			opts: adapter.Options{Rooms: []string{"space:7"}},
			want: delivery{adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"slot_update", map[string]any{"slot": 2.0, "status": "free"}}},
				adapter.Options{Rooms: []string{"space:7"}, Except: []string{}}},
		},
		{
			name: "rooms except volatile binary",
			p:    adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/", Data: []any{"blob", []byte{1, 2}}},
			opts: adapter.Options{Rooms: []string{"r1", "r2"}, Except: []string{"banned"}, Volatile: true},
			want: delivery{adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/", Data: []any{"blob", []byte{1, 2}}},
				adapter.Options{Rooms: []string{"r1", "r2"}, Except: []string{"banned"}, Volatile: true}},
		},
		{
			name: "other namespace",
			p:    adapter.Packet{Type: adapter.PacketEvent, Nsp: "/admin", Data: []any{"x"}},
			opts: adapter.Options{Except: []string{"e"}},
			want: delivery{adapter.Packet{Type: adapter.PacketEvent, Nsp: "/admin", Data: []any{"x"}},
				adapter.Options{Rooms: []string{}, Except: []string{"e"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Publish(ctx, tt.p, tt.opts); err != nil {
				t.Fatal(err)
			}
			if got := nodeB.next(t); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("delivered\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}

	t.Run("own messages ignored", func(t *testing.T) {
		// Redis delivers in publish order: if A's first delivery is B's
		// later message, A skipped its own.
		if err := a.Publish(ctx, adapter.Packet{Type: 2, Nsp: "/", Data: []any{"from-a"}}, adapter.Options{}); err != nil {
			t.Fatal(err)
		}
		nodeB.next(t)
		if err := b.Publish(ctx, adapter.Packet{Type: 2, Nsp: "/", Data: []any{"from-b"}}, adapter.Options{}); err != nil {
			t.Fatal(err)
		}
		if got := nodeA.next(t); got.p.Data[0] != "from-b" {
			t.Errorf("A got %v first, want from-b", got.p.Data)
		}
	})

	t.Run("local stays local", func(t *testing.T) {
		if err := a.Publish(ctx, adapter.Packet{Type: 2, Nsp: "/", Data: []any{"local"}}, adapter.Options{Local: true}); err != nil {
			t.Fatal(err)
		}
		if err := a.Publish(ctx, adapter.Packet{Type: 2, Nsp: "/", Data: []any{"marker"}}, adapter.Options{}); err != nil {
			t.Fatal(err)
		}
		if got := nodeB.next(t); got.p.Data[0] != "marker" {
			t.Errorf("B got %v, want marker", got.p.Data)
		}
	})
}

func TestFetchSocketsBetweenGoNodes(t *testing.T) {
	opt := redisOptions(t)
	prefix := testPrefix()
	cfg := Config{Client: newClient(t, opt), Prefix: prefix, Logger: quietLogger()}
	a := New(cfg)
	startCluster(t, a, newFakeNode(adapter.SocketInfo{ID: "a1", Rooms: []string{"a1", "lobby"}}))
	ctx := context.Background()

	t.Run("alone", func(t *testing.T) {
		got, err := a.FetchSockets(ctx, "/", adapter.Options{})
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want no sockets", got, err)
		}
	})

	b := New(cfg)
	startCluster(t, b, newFakeNode(
		adapter.SocketInfo{ID: "b1", Rooms: []string{"b1", "lobby"}, Data: map[string]any{"user": "alice"}},
		adapter.SocketInfo{ID: "b2", Rooms: []string{"b2", "lobby", "muted"}},
		adapter.SocketInfo{ID: "b3", Rooms: []string{"b3"}},
	))
	c := New(cfg)
	startCluster(t, c, newFakeNode(adapter.SocketInfo{ID: "c1", Rooms: []string{"c1", "lobby"}, Data: 42}))

	tests := []struct {
		name string
		opts adapter.Options
		want []adapter.SocketInfo
	}{
		{"all", adapter.Options{}, []adapter.SocketInfo{
			{ID: "b1", Rooms: []string{"b1", "lobby"}, Data: map[string]any{"user": "alice"}},
			{ID: "b2", Rooms: []string{"b2", "lobby", "muted"}},
			{ID: "b3", Rooms: []string{"b3"}},
			{ID: "c1", Rooms: []string{"c1", "lobby"}, Data: 42.0},
		}},
		{"room except", adapter.Options{Rooms: []string{"lobby"}, Except: []string{"muted"}}, []adapter.SocketInfo{
			{ID: "b1", Rooms: []string{"b1", "lobby"}, Data: map[string]any{"user": "alice"}},
			{ID: "c1", Rooms: []string{"c1", "lobby"}, Data: 42.0},
		}},
		{"nobody", adapter.Options{Rooms: []string{"nowhere"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.FetchSockets(ctx, "/", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(got, func(x, y adapter.SocketInfo) int { return strings.Compare(x.ID, y.ID) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}

	t.Run("unknown requests ignored", func(t *testing.T) {
		client := newClient(t, opt)
		for _, msg := range []string{"garbage", `{"type":6,"uid":"x","data":["e"]}`, `{"type":2,"uid":"x","opts":{"rooms":[]},"rooms":["r"]}`, `{"type":99}`} {
			if err := client.Publish(ctx, prefix+"-request#/#", msg).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := a.FetchSockets(ctx, "/", adapter.Options{Rooms: []string{"b3"}}); err != nil || len(got) != 1 {
			t.Fatalf("got %v, %v", got, err)
		}
	})

	t.Run("namespace not served", func(t *testing.T) {
		if _, err := a.FetchSockets(ctx, "/other", adapter.Options{}); err == nil {
			t.Error("no error")
		}
	})
}

func TestFetchSocketsTimesOut(t *testing.T) {
	opt := redisOptions(t)
	prefix := testPrefix()
	client := newClient(t, opt)
	a := New(Config{Client: client, Prefix: prefix, RequestTimeout: 200 * time.Millisecond, Logger: quietLogger()})
	startCluster(t, a, newFakeNode())
	// A subscriber that never answers, like a wedged node.
	mute := client.Subscribe(context.Background(), prefix+"-request#/#")
	t.Cleanup(func() { _ = mute.Close() })
	if _, err := mute.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := a.FetchSockets(context.Background(), "/", adapter.Options{})
	if !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("err = %v, want ErrRequestTimeout", err)
	}
}

func TestNotRunningIsUnavailable(t *testing.T) {
	a := New(Config{Logger: quietLogger()})
	if err := a.Healthy(); !errors.Is(err, adapter.ErrUnavailable) {
		t.Errorf("Healthy = %v, want ErrUnavailable", err)
	}
	// A broadcast before Run waits in the queue.
	if err := a.Publish(context.Background(), adapter.Packet{Type: 2, Nsp: "/", Data: []any{"e"}}, adapter.Options{}); err != nil {
		t.Errorf("Publish = %v, want it queued", err)
	}
	if st := a.Backlog(); st.Waiting != 1 {
		t.Errorf("backlog = %+v, want 1 waiting", st)
	}
	if _, err := a.FetchSockets(context.Background(), "/", adapter.Options{}); !errors.Is(err, adapter.ErrUnavailable) {
		t.Errorf("FetchSockets = %v, want ErrUnavailable", err)
	}
	if err := a.Run(context.Background(), newFakeNode()); err == nil {
		t.Error("Run without a client: no error")
	}
}
