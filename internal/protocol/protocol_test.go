package protocol

import (
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
	if got := HoldMessage(15 * time.Minute); got != "Slot occupato per 15 minuti" {
		t.Fatalf("HoldMessage(15m) = %q", got)
	}
	if got := HoldMessage(90 * time.Second); got != "Slot occupato per 1m30s" {
		t.Fatalf("HoldMessage(90s) = %q", got)
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
