package scenario

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadArtilleryShape(t *testing.T) {
	s, err := Load("testdata/echo.yml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Config.Target != "http://localhost:8080" || len(s.Config.Phases) != 1 || s.Config.Phases[0].Name != "warm up" {
		t.Fatalf("config = %+v", s.Config)
	}
	if len(s.Scenarios) != 2 || s.Scenarios[1].Weight != 2 || s.Scenarios[0].Weight != 1 {
		t.Fatalf("scenarios = %+v", s.Scenarios)
	}
	e := s.Scenarios[0].Flow[0]
	if e.Kind != KindEmit || e.Namespace != "/personalised" || e.Emit.Channel != "echo" || e.Emit.Response.Channel != "echoResponse" || e.Name != "echo" {
		t.Fatalf("emit step = %+v %+v", e, e.Emit)
	}
	loop := s.Scenarios[1].Flow[0]
	if loop.Kind != KindLoop || loop.Loop.Count != 3 || len(loop.Loop.Steps) != 2 {
		t.Fatalf("loop = %+v", loop.Loop)
	}
	if d := loop.Loop.Steps[0].Emit.Data; len(d) != 1 || d[0] != nil {
		t.Errorf("an emit without data sends one null argument, as Artillery does: %#v", d)
	}
	ack := loop.Loop.Steps[0].Emit.Ack
	if ack == nil || len(ack.Match) != 1 || ack.Match[0].JSON != "$.0.name" || ack.Match[0].Value != "Artillery" {
		t.Fatalf("ack = %+v", ack)
	}
	if th := loop.Loop.Steps[1].Think; th.Dist != Fixed || th.Min != 100*time.Millisecond {
		t.Fatalf("think = %+v", th)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	head := "config:\n  target: http://x\n  phases:\n    - duration: 10\n      arrivalRate: 1\nscenarios:\n  - flow:\n"
	for _, tc := range []struct {
		name, yml, want string
	}{
		{"yaml syntax", "config: [\n", "line 1"},
		{"unknown top key", "confg: {}\n", "script:1: unknown top-level key \"confg\""},
		{"no scenarios", "config:\n  phases: [{duration: 1, arrivalRate: 1}]\n", "no scenarios"},
		{"no phases", "scenarios:\n  - flow:\n      - think: 1\n", "config.phases is empty"},
		{"phase without rate", "config:\n  phases:\n    - duration: 10\nscenarios: [{flow: [{think: 1}]}]\n", "script:3: a phase needs arrivalRate"},
		{"phase rate and count", "config:\n  phases:\n    - {duration: 10, arrivalRate: 1, arrivalCount: 5}\nscenarios: [{flow: [{think: 1}]}]\n", "script:3: a phase has arrivalCount or arrivalRate"},
		{"bad duration", "config:\n  phases:\n    - duration: soon\n      arrivalRate: 1\nscenarios: [{flow: [{think: 1}]}]\n", "script:3: duration \"soon\""},
		{"unknown phase key", "config:\n  phases:\n    - duration: 1\n      arivalRate: 1\nscenarios: [{flow: [{think: 1}]}]\n", "script:4: unknown phase key \"arivalRate\""},
		{"unknown step", head + "      - emitt: {channel: x}\n", "script:8: unknown step key \"emitt\""},
		{"two kinds", head + "      - think: 1\n        emit: {channel: x}\n", "script:9: a step does one thing"},
		{"emit without channel", head + "      - emit: {data: 1}\n", "script:8: emit needs a channel"},
		{"unknown variable", head + "      - emit: {channel: x, data: \"{{ nobody }}\"}\n", "script:8: {{ nobody }} names no variable"},
		{"endless loop", head + "      - loop:\n          - think: 1\n", "a loop without end"},
		{"bad think", head + "      - think: {gauss: 1}\n", "script:8: unknown think distribution \"gauss\""},
		{"uniform upside down", head + "      - think: {uniform: [3, 1]}\n", "max is below min"},
		{"ack on think", head + "      - think: 1\n        acknowledge: {}\n", "belong to an emit step"},
		{"bad engine", "config:\n  phases: [{duration: 1, arrivalRate: 1}]\nscenarios:\n  - engine: http\n    flow: [{think: 1}]\n", "script:4: engine \"http\""},
		{"bad transport", "config:\n  phases: [{duration: 1, arrivalRate: 1}]\n  socketio:\n    transports: [carrier-pigeon]\nscenarios: [{flow: [{think: 1}]}]\n", "script:4: unknown transport"},
		{"bad match path", head + "      - emit: {channel: x}\n        acknowledge: {match: {json: name, value: 1}}\n", "must start with $"},
		{"join without sede", head + "      - join: {spazio: 1}\n", "script:8: join needs spazio and sede"},
		{"hold without slot", head + "      - hold: {}\n", "hold needs slot"},
		{"missing payload", "config:\n  phases: [{duration: 1, arrivalRate: 1}]\n  payload: {path: nope.csv, fields: [a]}\nscenarios: [{flow: [{think: 1}]}]\n", "script:3: config.payload: open"},
		{"zero weights", "config:\n  phases: [{duration: 1, arrivalRate: 1}]\nscenarios: [{weight: 0, flow: [{think: 1}]}]\n", "every scenario has weight 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yml), "testdata")
			if err == nil {
				t.Fatalf("parsed %q", tc.yml)
			}
			if !errors.Is(err, ErrScript) {
				t.Errorf("error %v does not wrap ErrScript", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPayloadAndVariables(t *testing.T) {
	yml := `config:
  phases: [{duration: 1, arrivalRate: 1}]
  payload:
    path: users.csv
    fields: [utente, spazio, sede]
    skipHeader: true
  variables:
    date: ["2030-01-02"]
scenarios:
  - flow:
      - join: {spazio: "{{ spazio }}", sede: "{{sede}}", date: "{{ date }}"}
      - emit: {channel: hello, data: {from: "{{ utente }} #{{ $vu }}", n: "{{ $vu }}"}}
`
	s, err := Parse([]byte(yml), "testdata")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var got []string
	for vu := range 4 {
		r := &Renderer{Vars: s.NewVars(vu, rng), Rng: rng}
		j := s.Scenarios[0].Flow[0].Join
		data := r.Render(s.Scenarios[0].Flow[1].Emit.Data[0]).(map[string]any)
		got = append(got, r.String(j.Spazio)+"/"+r.String(j.Sede)+"/"+r.String(j.Date)+" "+data["from"].(string))
		if data["n"] != float64(vu) {
			t.Errorf("a whole-string template keeps the type: n = %#v", data["n"])
		}
	}
	want := []string{"1/1/2030-01-02 alice #0", "2/1/2030-01-02 bob #1", "6/2/2030-01-02 carol #2", "1/1/2030-01-02 alice #3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("rows in sequence:\n got %q\nwant %q", got, want)
	}
}

func TestTemplateBuiltins(t *testing.T) {
	now := time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC)
	r := &Renderer{Vars: Vars{}, Rng: rand.New(rand.NewPCG(3, 4)), Now: func() time.Time { return now }}
	for i := 0; i < 200; i++ {
		n := r.Render("{{ $randomNumber(1, 3) }}").(float64)
		if n < 1 || n > 3 {
			t.Fatalf("$randomNumber(1,3) = %v", n)
		}
	}
	if got := r.String("{{ $tomorrow }}|{{ $dateOffset(2) }}|{{ $today }}"); got != "2030-02-01|2030-02-02|2030-01-31" {
		t.Errorf("dates = %q", got)
	}
	for i := 0; i < 100; i++ {
		if got := r.String("{{ $randomDate(1, 2) }}"); got != "2030-02-01" && got != "2030-02-02" {
			t.Fatalf("$randomDate(1, 2) = %q", got)
		}
	}
	if got := r.String("{{ $randomString(8) }}"); len(got) != 8 {
		t.Errorf("$randomString(8) = %q", got)
	}
	if got := r.String("{{ $uuid }}"); len(got) != 36 || got[14] != '4' {
		t.Errorf("$uuid = %q", got)
	}
}

func TestWeights(t *testing.T) {
	s, err := Load("testdata/echo.yml")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	counts := map[string]int{}
	for range 30000 {
		counts[s.Pick(rng).Name]++
	}
	// Weights 1 and 2: the second is picked twice as often, within 3%.
	ratio := float64(counts["emit_and_validate_acknowledgment"]) / float64(counts["emit_and_validate_response"])
	if ratio < 1.94 || ratio > 2.06 {
		t.Errorf("pick ratio %.3f, want 2 (counts %v)", ratio, counts)
	}
}

func TestThinkDistributions(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	mean := func(th Think) (avg, lo, hi time.Duration) {
		var sum time.Duration
		lo = time.Hour
		for range 20000 {
			d := th.Draw(rng)
			sum += d
			lo, hi = min(lo, d), max(hi, d)
		}
		return sum / 20000, lo, hi
	}
	if avg, lo, hi := mean(Think{Dist: Fixed, Min: 2 * time.Second}); avg != 2*time.Second || lo != hi {
		t.Errorf("fixed: mean %v, range %v..%v", avg, lo, hi)
	}
	avg, lo, hi := mean(Think{Dist: Uniform, Min: time.Second, Max: 3 * time.Second})
	if lo < time.Second || hi > 3*time.Second || avg < 1950*time.Millisecond || avg > 2050*time.Millisecond {
		t.Errorf("uniform [1s,3s]: mean %v, range %v..%v", avg, lo, hi)
	}
	avg, lo, hi = mean(Think{Dist: Exponential, Mean: time.Second})
	if avg < 950*time.Millisecond || avg > 1050*time.Millisecond || hi > maxExpFactor*time.Second || lo < 0 {
		t.Errorf("exponential mean 1s: mean %v, range %v..%v", avg, lo, hi)
	}
}

func TestMatch(t *testing.T) {
	r := &Renderer{Vars: Vars{"who": "Artillery"}, Rng: rand.New(rand.NewPCG(1, 1))}
	x := &Expect{Match: []Match{{JSON: "$.0.name", Value: "{{ who }}"}, {JSON: "$[0]['n']", Value: 3}}}
	ok := []byte(`{"name":"Artillery","n":3}`)
	if err := x.Check([]json.RawMessage{ok}, r); err != nil {
		t.Errorf("match failed: %v", err)
	}
	if err := x.Check([]json.RawMessage{[]byte(`{"name":"Locust","n":3}`)}, r); err == nil || !strings.Contains(err.Error(), `$.0.name is "Locust", want "Artillery"`) {
		t.Errorf("mismatch error = %v", err)
	}
	if err := x.Check(nil, r); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing error = %v", err)
	}
	d := &Expect{HasData: true, Data: map[string]any{"success": true}}
	if err := d.Check([]json.RawMessage{[]byte(`{"success":true}`)}, r); err != nil {
		t.Errorf("data match: %v", err)
	}
	if err := d.Check([]json.RawMessage{[]byte(`{"success":false}`)}, r); err == nil {
		t.Error("data mismatch accepted")
	}
}

// TestTransportsDefaultToSocketIOClients: a script that names no
// transports connects as socket.io-client (and so Artillery) does, on
// long-polling first and then upgraded to websocket; upgrade: false keeps
// the first; a script's own list stays as written.
func TestTransportsDefaultToSocketIOClients(t *testing.T) {
	const flow = "scenarios: [{flow: [{think: 1}]}]\n"
	tests := []struct {
		socketio string
		want     []string
	}{
		{"", []string{"polling", "websocket"}},
		{"  socketio: {query: {a: b}}\n", []string{"polling", "websocket"}},
		{"  socketio: {transports: []}\n", []string{"polling", "websocket"}},
		{"  socketio: {upgrade: false}\n", []string{"polling"}},
		{"  socketio: {transports: [websocket]}\n", []string{"websocket"}},
		{"  socketio: {transports: [websocket, polling]}\n", []string{"websocket", "polling"}},
		{"  socketio: {transports: [polling, websocket], upgrade: true}\n", []string{"polling", "websocket"}},
	}
	for _, tt := range tests {
		s, err := Parse([]byte("config:\n  phases: [{duration: 1, arrivalRate: 1}]\n"+tt.socketio+flow), "")
		if err != nil {
			t.Fatalf("%q: %v", tt.socketio, err)
		}
		if got := s.Config.SocketIO.Transports; !slices.Equal(got, tt.want) {
			t.Errorf("%q: transports %v, want %v", tt.socketio, got, tt.want)
		}
	}
	if _, err := Parse([]byte("config:\n  phases: [{duration: 1, arrivalRate: 1}]\n  socketio: {upgrade: maybe}\n"+flow), ""); err == nil {
		t.Error("upgrade: maybe accepted")
	}
}
