package protocol

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseID(t *testing.T) {
	ok := map[any]int64{float64(7): 7, "7": 7, " 12 ": 12, 3: 3, int64(9): 9}
	for in, want := range ok {
		got, err := ParseID(in)
		if err != nil || got != want {
			t.Errorf("ParseID(%#v) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []any{nil, float64(0), float64(-1), 1.5, "", "abc", "-2", "1.5", "0x10", true, map[string]any{}, []any{1}, float64(1 << 60), "99999999999999999"} {
		if got, err := ParseID(in); err == nil {
			t.Errorf("ParseID(%#v) = %d, want error", in, got)
		}
	}
}

func TestRooms(t *testing.T) {
	r := SpaceRoom(3, 1)
	if r != "spazio_3_sede_1" {
		t.Fatalf("SpaceRoom = %q", r)
	}
	sp, se, ok := ParseSpaceRoom(r)
	if !ok || sp != 3 || se != 1 {
		t.Fatalf("ParseSpaceRoom(%q) = %d, %d, %v", r, sp, se, ok)
	}
	for _, bad := range []string{"user_1", "spazio_3_sede_1x", "spazio_x_sede_1", ""} {
		if _, _, ok := ParseSpaceRoom(bad); ok {
			t.Errorf("ParseSpaceRoom(%q) ok, want not a space room", bad)
		}
	}
	if UserRoom(42) != "user_42" || !IsUserRoom("user_42") || IsUserRoom(r) {
		t.Fatal("user room helpers disagree")
	}
	if id, ok := ParseUserRoom(UserRoom(-7)); !ok || id != -7 {
		t.Errorf("ParseUserRoom(%q) = %d, %v", UserRoom(-7), id, ok)
	}
	for _, bad := range []string{"user_", "user_x", "user_01", "user_1 ", r, ""} {
		if id, ok := ParseUserRoom(bad); ok {
			t.Errorf("ParseUserRoom(%q) = %d, ok; want not a user room", bad, id)
		}
	}
}

func TestTimestampLikeJavaScript(t *testing.T) {
	ts := Timestamp(time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("X", 3600)))
	if ts != "2026-01-02T02:04:05.006Z" {
		t.Fatalf("Timestamp = %q", ts)
	}
	back, err := ParseTimestamp(ts)
	if err != nil || !back.Equal(time.Date(2026, 1, 2, 2, 4, 5, 6_000_000, time.UTC)) {
		t.Fatalf("ParseTimestamp(%q) = %v, %v", ts, back, err)
	}
}

func TestHoldMessage(t *testing.T) {
	tests := []struct {
		ttl  time.Duration
		want string
	}{
		{15 * time.Minute, "Slot occupato per 15 minuti"}, // the seed's text: the frontend knows it
		{10 * time.Minute, "Slot occupato per 10 minuti"},
		{time.Minute, "Slot occupato per 1 minuto"},
		{2 * time.Minute, "Slot occupato per 2 minuti"},
		{90 * time.Second, "Slot occupato per 90 secondi"},
		{119 * time.Second, "Slot occupato per 119 secondi"},
		{3 * time.Second, "Slot occupato per 3 secondi"},
		{time.Second, "Slot occupato per 1 secondo"},
		{2*time.Minute + 30*time.Second, "Slot occupato per 2 minuti e 30 secondi"},
		{time.Hour, "Slot occupato per 1 ora"},
		{2 * time.Hour, "Slot occupato per 2 ore"},
		{90 * time.Minute, "Slot occupato per 1 ora e 30 minuti"},
		{time.Hour + time.Minute, "Slot occupato per 1 ora e 1 minuto"},
		{time.Hour + 5*time.Second, "Slot occupato per 1 ora e 5 secondi"},
		{2*time.Hour + 3*time.Minute + 4*time.Second, "Slot occupato per 2 ore, 3 minuti e 4 secondi"},
		{48 * time.Hour, "Slot occupato per 48 ore"},
		{1500 * time.Millisecond, "Slot occupato per 2 secondi"}, // rounded to the second
		{300 * time.Millisecond, "Slot occupato per 1 secondo"},  // never "0 secondi"
	}
	for _, tt := range tests {
		if got := HoldMessage(tt.ttl); got != tt.want {
			t.Errorf("HoldMessage(%v) = %q, want %q", tt.ttl, got, tt.want)
		}
	}
}

func TestFairUseMessages(t *testing.T) {
	tests := []struct{ got, want string }{
		{HoldLimitMessage(4), "Puoi occupare al massimo 4 slot alla volta: prenotane o liberane uno prima di occuparne un altro"},
		{HoldLimitMessage(1), "Puoi occupare un solo slot alla volta: prenotalo o liberalo prima di occuparne un altro"},
		{DateTooFarMessage(90), "Si può prenotare al massimo 90 giorni in anticipo"},
		{DateTooFarMessage(1), "Si può prenotare al massimo 1 giorno in anticipo"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "-1", "1.0", "", "abc", "9007199254740993"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseID(s); err == nil && n <= 0 {
			t.Fatalf("ParseID(%q) = %d without error", s, n)
		}
	})
}

// TestGridVersions walks the client rule: updates at or below the
// snapshot are dropped, per slot only newer ones apply, updates of
// different slots may arrive out of order, and a hole is reported until
// it is filled.
func TestGridVersions(t *testing.T) {
	g := NewGridVersions(10)
	steps := []struct {
		slot    int
		version int64
		apply   bool
		missing int64 // 0: no gap
	}{
		{1, 9, false, 0},   // committed before the snapshot was read
		{1, 10, false, 0},  // the snapshot's own last change
		{2, 12, true, 11},  // slot 2 overtook slot 1's update 11
		{1, 11, true, 0},   // late, but slot 1 has seen nothing newer: apply
		{2, 12, false, 0},  // duplicate
		{3, 15, true, 13},  // 13 and 14 not here yet
		{3, 13, false, 14}, // older than what slot 3 shows
		{4, 14, true, 0},
		{4, 16, true, 0},
	}
	for i, s := range steps {
		if got := g.Apply(s.slot, s.version); got != s.apply {
			t.Fatalf("step %d: Apply(slot %d, v%d) = %v, want %v", i, s.slot, s.version, got, s.apply)
		}
		m, ok := g.Missing()
		if s.missing == 0 && ok || s.missing != 0 && (!ok || m != s.missing) {
			t.Fatalf("step %d: Missing() = %d, %v; want %d", i, m, ok, s.missing)
		}
	}
	if g.Snapshot() != 10 || g.Latest() != 16 {
		t.Fatalf("Snapshot, Latest = %d, %d; want 10, 16", g.Snapshot(), g.Latest())
	}
}

func TestValidateEventName(t *testing.T) {
	tests := []struct {
		name string
		code string // "" when accepted
	}{
		{"slot_update", ""},
		{"promo", ""},
		{"load-test:burst/1.2", ""},
		{strings.Repeat("a", MaxEventNameLen), ""},
		{"", CodeBadInput},
		{strings.Repeat("a", MaxEventNameLen+1), CodeBadEventName},
		{strings.Repeat("a", 100_000), CodeBadEventName},
		{"slot update", CodeBadEventName},
		{"promo\n", CodeBadEventName},
		{"caffè", CodeBadEventName},
		{"x\x00", CodeBadEventName},
		{"connect", CodeReservedEvent},
		{"disconnect", CodeReservedEvent},
		{"connect_error", CodeReservedEvent},
	}
	for _, tt := range tests {
		err := ValidateEventName(tt.name)
		var ne *EventNameError
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("%.20q: %v, want accepted", tt.name, err)
		case tt.code != "" && (!errors.As(err, &ne) || ne.Code != tt.code):
			t.Errorf("%.20q: %v, want code %s", tt.name, err, tt.code)
		}
	}
}
