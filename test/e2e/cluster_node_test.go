package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// clusterDir is the Node fixture of a socket.io 4.8 server on
// @socket.io/redis-adapter 8.3 (plus the official client).
func clusterDir() string { return filepath.Join(repoRoot, "test", "node", "cluster") }

// mixedRoom is the spazio 1 / sede 1 room of the demo catalog.
const mixedRoom = "spazio_1_sede_1"

// mixedWait bounds every wait for one line of a Node process.
const mixedWait = 10 * time.Second

// requireMixedCluster skips without COWORK_TEST_REDIS_URL or node, runs
// `npm ci` in test/node/cluster when its packages are missing, and returns
// the Redis URL.
func requireMixedCluster(t *testing.T) string {
	t.Helper()
	url := os.Getenv("COWORK_TEST_REDIS_URL")
	if url == "" {
		t.Skip("COWORK_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379): no Redis for the mixed cluster")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: install Node.js 20+ for the mixed Go/Node cluster test")
	}
	if _, err := os.Stat(filepath.Join(clusterDir(), "node_modules")); err == nil {
		return url
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("test/node/cluster/node_modules is missing and npm is not installed: cd test/node/cluster && npm ci")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = clusterDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", clusterDir(), err, out)
	}
	return url
}

// mixedProc is a script of test/node/cluster that prints one JSON object
// per line on stdout and exits when its stdin ends.
type mixedProc struct {
	name  string
	stdin io.WriteCloser
	lines chan map[string]any
	// seen holds every line await consumed, for "never received" checks.
	seen   []map[string]any
	stderr *syncBuffer
	nextID int
}

// startMixedProc runs `node script args...` in test/node/cluster until the
// test ends: then it closes stdin and kills the process if it has not
// exited 5s later.
func startMixedProc(t *testing.T, name string, env []string, script string, args ...string) *mixedProc {
	t.Helper()
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Dir = clusterDir()
	cmd.Env = append(cleanEnv(), env...)
	p := &mixedProc{name: name, lines: make(chan map[string]any, 1024), stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p.stdin = stdin
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
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s lines:\n%s\n%s stderr:\n%s", name, p.dump(), name, p.stderr.String())
		}
	})
	return p
}

// await returns the first line that matches, within mixedWait.
func (p *mixedProc) await(t *testing.T, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.NewTimer(mixedWait)
	defer timeout.Stop()
	for {
		select {
		case m, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited while waiting for %s", p.name, what)
			}
			p.seen = append(p.seen, m)
			if match(m) {
				return m
			}
		case <-timeout.C:
			t.Fatalf("%s: no %s within %v", p.name, what, mixedWait)
		}
	}
}

// event waits for the line {"event": name}.
func (p *mixedProc) event(t *testing.T, name string) map[string]any {
	t.Helper()
	return p.await(t, name, func(m map[string]any) bool { return m["event"] == name })
}

// message waits for a received Socket.IO event called name whose first
// argument passes match (nil: any), and returns that argument.
func (p *mixedProc) message(t *testing.T, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	m := p.await(t, "event "+name, func(m map[string]any) bool {
		if m["event"] != "message" || m["name"] != name {
			return false
		}
		return match == nil || match(firstArg(m))
	})
	return firstArg(m)
}

// received reports whether a consumed line was the Socket.IO event name.
func (p *mixedProc) received(name string) bool {
	for _, m := range p.seen {
		if m["event"] == "message" && m["name"] == name {
			return true
		}
	}
	return false
}

func (p *mixedProc) dump() string {
	var b []byte
	for _, m := range p.seen {
		line, _ := json.Marshal(m)
		b = append(append(b, line...), '\n')
	}
	return string(b)
}

// command sends one control command to node-server.mjs on stdin and
// returns its result.
func (p *mixedProc) command(t *testing.T, cmd map[string]any) any {
	t.Helper()
	p.nextID++
	id := float64(p.nextID)
	cmd["id"] = id
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("%s: write command: %v", p.name, err)
	}
	reply := p.await(t, "reply to "+string(b), func(m map[string]any) bool { return m["id"] == id })
	if reply["ok"] != true {
		t.Fatalf("%s: %s: %v", p.name, b, reply["error"])
	}
	return reply["result"]
}

func firstArg(m map[string]any) map[string]any {
	args, _ := m["args"].([]any)
	if len(args) == 0 {
		return nil
	}
	a, _ := args[0].(map[string]any)
	return a
}

// mixedPrefix is a Redis channel prefix no other run uses.
func mixedPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "cowork-e2e-" + hex.EncodeToString(b)
}

// TestNodeMixedCluster runs a Node socket.io 4.8 server on
// @socket.io/redis-adapter 8.3 and a `coworkctl serve --redis` node on one
// Redis and prefix, with official socket.io-clients on both, and checks
// that they behave as one cluster: broadcasts cross in both directions and
// the admin emit counts every node's sockets.
func TestNodeMixedCluster(t *testing.T) {
	redisURL := requireMixedCluster(t)
	prefix := mixedPrefix(t)

	nodeSrv := startMixedProc(t, "node-server", []string{"PORT=0", "PREFIX=" + prefix, "REDIS_URL=" + redisURL}, "node-server.mjs")
	port, _ := nodeSrv.event(t, "ready")["port"].(float64)
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d/", int(port))

	srv := StartServer(t, ServerConfig{Args: []string{"--redis", redisURL, "--redis-prefix", prefix}})

	// On the Node server: a socket in the spazio 1 room.
	nodeClient := startMixedProc(t, "node-client", nil, "node-client.mjs", nodeURL, mixedRoom, "node-user")
	nodeClientID, _ := nodeClient.event(t, "connect")["id"].(string)

	// On coworkctl: a client that joined spazio 1, and one in no spazio.
	member := startMixedProc(t, "cowork-member", []string{"TOKEN=" + srv.Token(t, 501, "cliente"), "JOIN=1:1"}, "cowork-client.mjs", srv.URL+"/")
	member.event(t, "connect")
	if ack, _ := member.event(t, "joined")["ack"].(map[string]any); ack["success"] != true || ack["room"] != mixedRoom {
		t.Fatalf("join_space ack = %v, want success in %s", ack, mixedRoom)
	}
	lobby := startMixedProc(t, "cowork-lobby", []string{"TOKEN=" + srv.Token(t, 502, "cliente")}, "cowork-client.mjs", srv.URL+"/")
	lobby.event(t, "connect")

	t.Run("Node sees coworkctl's sockets", func(t *testing.T) {
		socks, _ := nodeSrv.command(t, map[string]any{"cmd": "fetchSockets", "rooms": []string{mixedRoom}}).([]any)
		if len(socks) != 2 {
			t.Fatalf("Node fetchSockets(%s) = %d sockets, want 2 (its own and coworkctl's): %v", mixedRoom, len(socks), socks)
		}
		ids := map[string]bool{}
		for _, s := range socks {
			ids[s.(map[string]any)["id"].(string)] = true
		}
		if !ids[nodeClientID] {
			t.Errorf("Node fetchSockets(%s) misses its own socket %s: %v", mixedRoom, nodeClientID, socks)
		}
	})

	t.Run("coworkctl broadcast reaches both nodes", func(t *testing.T) {
		date := Tomorrow()
		r := srv.Do(t, http.MethodPost, "/api/slots/3/hold", srv.Token(t, 777, "cliente"),
			map[string]any{"idSpazio": 1, "sedeId": 1, "date": date})
		if r.Status != http.StatusOK {
			t.Fatalf("hold: %d %s", r.Status, r.Raw)
		}
		isHold := func(a map[string]any) bool {
			d, _ := a["data"].(map[string]any)
			return a["slotId"] == 3.0 && a["status"] == "occupied" && d["date"] == date
		}
		for _, c := range []*mixedProc{nodeClient, member} {
			got := c.message(t, "slot_update", isHold)
			if d, _ := got["data"].(map[string]any); d["id_spazio"] != 1.0 || d["id_sede"] != 1.0 {
				t.Errorf("%s: slot_update data = %v, want id_spazio 1, id_sede 1", c.name, d)
			}
			if d, _ := got["data"].(map[string]any); d["id_utente"] != nil {
				t.Errorf("%s: slot_update carries the holder's id_utente: %v", c.name, d)
			}
		}
	})

	t.Run("Node broadcast reaches coworkctl", func(t *testing.T) {
		broadcast := func(event string, rooms []string, arg any) {
			t.Helper()
			nodeSrv.command(t, map[string]any{"cmd": "broadcast", "rooms": rooms, "event": event, "args": []any{arg}})
		}
		broadcast("node_elsewhere", []string{"spazio_2_sede_1"}, map[string]any{"n": 0})
		broadcast("node_room", []string{mixedRoom}, map[string]any{"n": 1})
		broadcast("node_all", []string{}, map[string]any{"n": 2})

		if got := member.message(t, "node_room", nil); got["n"] != 1.0 {
			t.Errorf("member: node_room = %v, want {n: 1}", got)
		}
		if got := member.message(t, "node_all", nil); got["n"] != 2.0 {
			t.Errorf("member: node_all = %v, want {n: 2}", got)
		}
		lobby.message(t, "node_all", nil)
		// One Redis connection delivers in order: what came before node_all
		// is all there was.
		if member.received("node_elsewhere") || lobby.received("node_elsewhere") {
			t.Errorf("a broadcast to spazio_2_sede_1 reached a coworkctl client outside that room")
		}
		if lobby.received("node_room") {
			t.Errorf("a broadcast to %s reached the coworkctl client that never joined it", mixedRoom)
		}
	})

	t.Run("admin emit counts and reaches both nodes", func(t *testing.T) {
		staff := srv.Token(t, 1, "gestore")
		emit := func(body map[string]any) map[string]any {
			t.Helper()
			r := srv.Do(t, http.MethodPost, "/api/admin/emit", staff, body)
			if r.Status != http.StatusOK || r.Body["success"] != true {
				t.Fatalf("admin emit %v: %d %s", body, r.Status, r.Raw)
			}
			return r.Body
		}
		res := emit(map[string]any{"event": "admin_room", "data": map[string]any{"seq": 1}, "spazioId": 1, "sedeId": 1})
		if res["recipients"] != 2.0 || res["recipientsExact"] != true || res["target"] != mixedRoom {
			t.Errorf("admin emit to %s = %s; want recipients 2 (the Node socket and coworkctl's), exact, target %s", mixedRoom, mustJSON(res), mixedRoom)
		}
		for _, c := range []*mixedProc{nodeClient, member} {
			if got := c.message(t, "admin_room", nil); got["seq"] != 1.0 {
				t.Errorf("%s: admin_room = %v, want {seq: 1}", c.name, got)
			}
		}

		res = emit(map[string]any{"event": "admin_all", "data": map[string]any{"seq": 2}, "all": true})
		if res["recipients"] != 3.0 || res["recipientsExact"] != true {
			t.Errorf("admin emit to all = %s; want recipients 3 (1 on Node, 2 on coworkctl), exact", mustJSON(res))
		}
		for _, c := range []*mixedProc{nodeClient, member, lobby} {
			if got := c.message(t, "admin_all", nil); got["seq"] != 2.0 {
				t.Errorf("%s: admin_all = %v, want {seq: 2}", c.name, got)
			}
		}
		if lobby.received("admin_room") {
			t.Errorf("the admin emit to %s reached the coworkctl client that never joined it", mixedRoom)
		}
		if lobby.received("slot_update") {
			t.Errorf("a slot_update of %s reached the coworkctl client that never joined it", mixedRoom)
		}
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
