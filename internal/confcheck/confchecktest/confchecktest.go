// Package confchecktest checks a Config's Validate the same way in every
// package that has one: each bad value is reported with its own error,
// and of several bad values always the first in Validate's order.
package confchecktest

import "testing"

// Bad is one bad value of a field and the error Validate gives for it.
type Bad[C any] struct {
	Set  func(*C)
	Want string
}

// Check runs validate (defaults applied, then Validate) on a zero C with
// each bad value alone, then with the values from i on all bad, where
// value i must be reported, five times each: bad lists one value per
// checked field in Validate's order.
func Check[C any](t *testing.T, bad []Bad[C], validate func(C) error) {
	t.Helper()
	var zero C
	if err := validate(zero); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	for _, b := range bad {
		var c C
		b.Set(&c)
		if err := validate(c); err == nil || err.Error() != b.Want {
			t.Errorf("Validate() = %v, want %q", err, b.Want)
		}
	}
	for i, first := range bad {
		var c C
		for _, b := range bad[i:] {
			b.Set(&c)
		}
		for range 5 {
			if err := validate(c); err == nil || err.Error() != first.Want {
				t.Fatalf("values %d.. bad: Validate() = %v, want %q", i, err, first.Want)
			}
		}
	}
}
