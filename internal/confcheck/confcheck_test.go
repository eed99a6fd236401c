package confcheck

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestChecks(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"positive int", Positive("N", 1), ""},
		{"zero int", Positive("N", 0), "N must be positive, got 0"},
		{"negative duration", Positive("D", -time.Second), "D must be positive, got -1s"},
		{"zero rate", Positive("R", 0.0), "R must be positive, got 0"},
		{"not negative zero", NotNegative("S", time.Duration(0), "off"), ""},
		{"negative with meaning", NotNegative("S", -2*time.Second, "off"), "S must be 0 (off) or positive, got -2s"},
		{"negative without meaning", NotNegative("P", -1, ""), "P must be 0 or positive, got -1"},
		{"at least", AtLeast("B", int64(1024), 1024, "bytes"), ""},
		{"below least", AtLeast("B", int64(10), 1024, "bytes"), "B must be at least 1024 bytes, got 10"},
		{"below least no unit", AtLeast("N", 1, 2, ""), "N must be at least 2, got 1"},
		{"nested", In("Engine", Positive("PingInterval", time.Duration(0))), "Engine.PingInterval must be positive, got 0s"},
		{"nested twice", In("Realtime", In("Socket", Positive("Recovery.MaxBytes", -1))), "Realtime.Socket.Recovery.MaxBytes must be positive, got -1"},
		{"nil nested", In("Engine", nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
			}
			if got != tt.want {
				t.Fatalf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInKeepsOtherErrors(t *testing.T) {
	if err := In("Engine", io.EOF); err != io.EOF {
		t.Fatalf("In changed a plain error: %v", err)
	}
	var fe *FieldError
	if err := In("A", In("B", Positive("C", 0))); !errors.As(err, &fe) || fe.Field != "A.B.C" || fe.Problem != "must be positive, got 0" {
		t.Fatalf("In(A, In(B, C)) = %#v", fe)
	}
}

func TestFirstIsTheEarliestInTheList(t *testing.T) {
	a, b := Positive("A", 0), Positive("B", 0)
	if got := First(nil, a, nil, b); got != a {
		t.Fatalf("First = %v, want %v", got, a)
	}
	if got := First(nil, nil); got != nil {
		t.Fatalf("First of nils = %v", got)
	}
}
