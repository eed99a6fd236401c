// Package confcheck checks configuration values and reports a bad one by
// the name of its field, so that each package validates only its own
// Config and a command above it can name the flag the user typed instead.
// It imports nothing of the project.
package confcheck

import (
	"errors"
	"fmt"
)

// FieldError is a bad value of one configuration field.
type FieldError struct {
	// Field is the field's path from the Config that was validated, e.g.
	// "Engine.MaxPayload".
	Field string
	// Problem says what is wrong, e.g. "must be positive, got -1s".
	Problem string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

// Errorf reports field as bad, with a Problem made by fmt.Sprintf.
func Errorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// In puts parent in front of the field of a FieldError, for a Config held
// in a field of another: In("Engine", err) turns "MaxPayload" into
// "Engine.MaxPayload". Other errors and nil are returned as they are.
func In(parent string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return &FieldError{Field: parent + "." + fe.Field, Problem: fe.Problem}
}

// First returns the first error that is not nil. A Validate lists its
// checks in a fixed order, so that of several bad values the same one is
// reported every time.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// number is what the checks compare; time.Duration is an ~int64.
type number interface {
	~int | ~int64 | ~float64
}

// Positive refuses v <= 0.
func Positive[T number](field string, v T) error {
	if v > 0 {
		return nil
	}
	return Errorf(field, "must be positive, got %v", v)
}

// NotNegative refuses v < 0. zero, when not empty, says what 0 means
// ("off"); leave it empty where a caller gives 0 a meaning of its own.
func NotNegative[T number](field string, v T, zero string) error {
	switch {
	case v >= 0:
		return nil
	case zero == "":
		return Errorf(field, "must be 0 or positive, got %v", v)
	}
	return Errorf(field, "must be 0 (%s) or positive, got %v", zero, v)
}

// AtLeast refuses v < least; unit follows the numbers in the message
// ("bytes"), or nothing when empty.
func AtLeast[T number](field string, v, least T, unit string) error {
	if v >= least {
		return nil
	}
	if unit != "" {
		unit = " " + unit
	}
	return Errorf(field, "must be at least %v%s, got %v", least, unit, v)
}
