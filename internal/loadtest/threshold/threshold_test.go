package threshold

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in     string
		figure string
		op     string
		limit  float64
	}{
		{"hold.p99<50ms", "hold.p99", "<", 50},
		{"errors.rate<0.1%", "errors.rate", "<", 0.001},
		{"vusers.failed==0", "vusers.failed", "==", 0},
		{" websocket.delivery.p99 <= 1.5s ", "websocket.delivery.p99", "<=", 1500},
		{"join.count>=100", "join.count", ">=", 100},
		{"emit.echo.p50<250µs", "emit.echo.p50", "<", 0.25},
		{"vusers.completed!=0", "vusers.completed", "!=", 0},
	} {
		th, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if th.Figure != tc.figure || th.Op != tc.op || math.Abs(th.Limit-tc.limit) > 1e-12 {
			t.Errorf("Parse(%q) = %+v, want %s %s %v", tc.in, th, tc.figure, tc.op, tc.limit)
		}
	}
	for _, bad := range []string{"hold.p99", "<50ms", "hold.p99<", "hold.p99<fast", "errors.rate<x%", "a=1"} {
		if _, err := Parse(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestCheck(t *testing.T) {
	figs := Figures{
		"hold.p99":               {12.5, Millis},
		"errors.rate":            {0.002, Ratio},
		"vusers.failed":          {0, Count},
		"vusers.created":         {500, Count},
		"polling.delivery.p99":   {180, Millis},
		"websocket.delivery.p99": {40, Millis},
	}
	for _, tc := range []struct {
		in   string
		pass bool
		why  string
	}{
		{"hold.p99<50ms", true, ""},
		{"hold.p99<10ms", false, ""},
		{"errors.rate<0.1%", false, ""},
		{"errors.rate<0.5%", true, ""},
		{"errors.rate<0.005", true, ""},
		{"vusers.failed==0", true, ""},
		{"vusers.created>=600", false, ""},
		{"websocket.delivery.p99<100ms", true, ""},
		{"polling.delivery.p99<100ms", false, ""},
		{"hold.p99<50", false, "needs a unit"},
		{"vusers.failed<1s", false, "not a latency"},
		{"vusers.failed<1%", false, "not a rate"},
		{"hold.p95<50ms", false, "no such figure; try hold.p99"},
	} {
		th, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		r := th.Check(figs)
		if r.Pass != tc.pass || !strings.Contains(r.Why, tc.why) {
			t.Errorf("%s: pass %v why %q, want pass %v why ~%q", tc.in, r.Pass, r.Why, tc.pass, tc.why)
		}
	}
	ts := []Threshold{must(t, "hold.p99<50ms"), must(t, "errors.rate<0.1%")}
	res, pass := CheckAll(ts, figs)
	if pass || len(res) != 2 || !res[0].Pass || res[1].Pass {
		t.Errorf("CheckAll = %v %v", res, pass)
	}
	if got := res[1].String(); got != "FAIL errors.rate<0.1% (0.200%)" {
		t.Errorf("String() = %q", got)
	}
	if got := res[0].String(); got != "PASS hold.p99<50ms (12.5ms)" {
		t.Errorf("String() = %q", got)
	}
}

func must(t *testing.T, s string) Threshold {
	t.Helper()
	th, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestResultJSON(t *testing.T) {
	res, _ := CheckAll([]Threshold{must(t, "hold.p99<50ms"), must(t, "nope.p99<1ms")}, Figures{"hold.p99": {12.5, Millis}})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as emit load --json writes
	if err := enc.Encode(res); err != nil {
		t.Fatal(err)
	}
	b := bytes.TrimSpace(buf.Bytes())
	want := `[{"threshold":"hold.p99<50ms","figure":"hold.p99","op":"<","limit":50,"pass":true,"value":12.5,"text":"PASS hold.p99<50ms (12.5ms)"},` +
		`{"threshold":"nope.p99<1ms","figure":"nope.p99","op":"<","limit":1,"pass":false,"why":"no such figure; try hold.p99","value":null,"text":"FAIL nope.p99<1ms (—): no such figure; try hold.p99"}]`
	if string(b) != want {
		t.Errorf("json\n got %s\nwant %s", b, want)
	}
}
