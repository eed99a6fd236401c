package redisadapter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/coworkctl/coworkctl/internal/socketio/adapter"
)

// nodeFixture is test/node/cluster, relative to this package.
const nodeFixture = "../../../test/node/cluster"

// jsonLines is a Node process that prints one JSON object per line.
type jsonLines struct {
	stdin io.WriteCloser
	lines chan map[string]any
}

// startNode runs `node script args...` in the fixture directory until the
// test ends.
func startNode(t *testing.T, env []string, script string, args ...string) *jsonLines {
	t.Helper()
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Dir = nodeFixture
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = &testWriter{t: t, prefix: script + ": "}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &jsonLines{stdin: stdin, lines: make(chan map[string]any, 100)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"event": "unparsed", "line": sc.Text()}
			}
			p.lines <- m
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // both scripts exit when stdin ends
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// await returns the first line for which match is true, dropping the
// lines before it.
func (p *jsonLines) await(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-p.lines:
			if !ok {
				t.Fatalf("process exited while waiting for %s", what)
			}
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (p *jsonLines) event(t *testing.T, name string) map[string]any {
	t.Helper()
	return p.await(t, name, func(m map[string]any) bool { return m["event"] == name })
}

var commandID = 0

// command sends a control command to the Node server and returns its result.
func (p *jsonLines) command(t *testing.T, cmd map[string]any) any {
	t.Helper()
	commandID++
	id := float64(commandID)
	cmd["id"] = id
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	reply := p.await(t, fmt.Sprintf("reply to %s", b), func(m map[string]any) bool { return m["id"] == id })
	if reply["ok"] != true {
		t.Fatalf("%s: %v", b, reply["error"])
	}
	return reply["result"]
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s%s", w.prefix, b)
	return len(b), nil
}

// needNode skips without node and npm, and installs the fixture's
// packages when they are missing.
func needNode(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found: %v", bin, err)
		}
	}
	if _, err := os.Stat(filepath.Join(nodeFixture, "node_modules")); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = nodeFixture
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", nodeFixture, err, out)
	}
}

// TestMixedClusterWithNode runs a Node socket.io server on
// @socket.io/redis-adapter, with an official socket.io-client connected
// to it, next to a Go node on the same Redis and prefix.
func TestMixedClusterWithNode(t *testing.T) {
	opt := redisOptions(t)
	needNode(t)
	prefix := testPrefix()

	server := startNode(t, []string{
		"PORT=0", "PREFIX=" + prefix,
		"REDIS_URL=" + os.Getenv("COWORK_TEST_REDIS_URL"),
		"DEBUG=" + os.Getenv("COWORK_TEST_NODE_DEBUG"),
	}, "node-server.mjs")
	port := server.event(t, "ready")["port"].(float64)
	client := startNode(t, nil, "node-client.mjs",
		fmt.Sprintf("http://127.0.0.1:%d/", int(port)), "lobby,space:1", "alice")
	clientID := client.event(t, "connect")["id"].(string)

	goNode := newFakeNode(
		adapter.SocketInfo{ID: "go-1", Rooms: []string{"go-1", "lobby"}, Data: map[string]any{"user": "bob"}},
		adapter.SocketInfo{ID: "go-2", Rooms: []string{"go-2", "space:2"}},
	)
	c := New(Config{Client: newClient(t, opt), Prefix: prefix, Logger: quietLogger()})
	startCluster(t, c, goNode)
	ctx := context.Background()

	message := func(t *testing.T, name string) map[string]any {
		return client.await(t, "message "+name, func(m map[string]any) bool { return m["event"] == "message" })
	}

	t.Run("Go broadcast reaches the Node client", func(t *testing.T) {
		publish := func(data []any, opts adapter.Options) {
			t.Helper()
			if err := c.Publish(ctx, adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/", Data: data}, opts); err != nil {
				t.Fatal(err)
			}
		}
		// Not for the client: another room, and an excluded room.
		publish([]any{"nope"}, adapter.Options{Rooms: []string{"space:2"}})
		publish([]any{"nope"}, adapter.Options{Except: []string{"space:1"}})
		publish([]any{"slot_update", slotUpdate{Slot: 4, Status: "held"}, []byte{0, 1, 255}},
			adapter.Options{Rooms: []string{"space:1"}})
		got := message(t, "slot_update")
		want := map[string]any{"event": "message", "name": "slot_update", "args": []any{
			map[string]any{"slot": 4.0, "status": "held"},
			map[string]any{"$bin": "AAH/"},
		}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("client got %v, want %v", got, want)
		}
		publish([]any{"to_all", "x"}, adapter.Options{Rooms: []string{"lobby", "space:9"}, Except: []string{"muted"}})
		if got := message(t, "to_all"); got["name"] != "to_all" {
			t.Errorf("client got %v", got)
		}
	})

	t.Run("Node broadcast reaches the Go node", func(t *testing.T) {
		server.command(t, map[string]any{"cmd": "broadcast", "rooms": []string{"space:1"}, "except": []string{"muted"},
			"event": "from_node", "args": []any{1, "two", map[string]any{"$bin": "AAE="}}})
		got := goNode.next(t)
		want := delivery{
			adapter.Packet{Type: adapter.PacketBinaryEvent, Nsp: "/", Data: []any{"from_node", 1.0, "two", []byte{0, 1}}},
			adapter.Options{Rooms: []string{"space:1"}, Except: []string{"muted"}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Go node got\n%#v\nwant\n%#v", got, want)
		}
		server.command(t, map[string]any{"cmd": "broadcast", "event": "plain", "args": []any{map[string]any{"k": []any{true, nil}}}, "volatile": true})
		got = goNode.next(t)
		want = delivery{
			adapter.Packet{Type: adapter.PacketEvent, Nsp: "/", Data: []any{"plain", map[string]any{"k": []any{true, nil}}}},
			adapter.Options{Rooms: []string{}, Except: []string{}, Volatile: true},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Go node got\n%#v\nwant\n%#v", got, want)
		}
	})

	t.Run("Go FetchSockets sees Node's sockets", func(t *testing.T) {
		got, err := c.FetchSockets(ctx, "/", adapter.Options{Rooms: []string{"space:1"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != clientID {
			t.Fatalf("got %#v, want the client %s", got, clientID)
		}
		if want := []string{clientID, "lobby", "space:1"}; !equalSorted(got[0].Rooms, want) {
			t.Errorf("rooms %v, want %v", got[0].Rooms, want)
		}
		wantData := map[string]any{"user": "alice", "rooms": []any{"lobby", "space:1"}}
		if !reflect.DeepEqual(got[0].Data, wantData) {
			t.Errorf("data %#v, want %#v", got[0].Data, wantData)
		}
		if got, err := c.FetchSockets(ctx, "/", adapter.Options{Except: []string{"lobby"}}); err != nil || len(got) != 0 {
			t.Errorf("except lobby: %v, %v", got, err)
		}
	})

	t.Run("Node fetchSockets sees the Go node's sockets", func(t *testing.T) {
		result := server.command(t, map[string]any{"cmd": "fetchSockets", "rooms": []string{"lobby"}})
		list, _ := result.([]any)
		byID := map[string]map[string]any{}
		for _, s := range list {
			m := s.(map[string]any)
			byID[m["id"].(string)] = m
		}
		if len(byID) != 2 || byID[clientID] == nil || byID["go-1"] == nil {
			t.Fatalf("Node fetched %v, want %s and go-1", result, clientID)
		}
		g := byID["go-1"]
		if !reflect.DeepEqual(g["rooms"], []any{"go-1", "lobby"}) || !reflect.DeepEqual(g["data"], map[string]any{"user": "bob"}) {
			t.Errorf("go-1 seen by Node as %v", g)
		}
		if hs, ok := g["handshake"].(map[string]any); !ok || hs["query"] == nil {
			t.Errorf("go-1 handshake %v, want an object with query", g["handshake"])
		}
		rooms := server.command(t, map[string]any{"cmd": "allRooms"})
		for _, want := range []string{"go-2", "space:2", "lobby", "space:1"} {
			if !slices.Contains(rooms.([]any), any(want)) {
				t.Errorf("allRooms %v lacks %s", rooms, want)
			}
		}
	})
}

func equalSorted(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
