package testkit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// DecodeStrict decodes the JSON object line into v, a pointer to a
// struct, and fails the test when the object has a key v has no field
// for, or lacks the key of a field not marked omitempty: printed lines
// and the type that documents them cannot drift apart unnoticed.
func DecodeStrict(t testing.TB, line []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("line %s does not decode into %T: %v", line, v, err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(line, &keys); err != nil {
		t.Fatalf("line %s: %v", line, err)
	}
	typ := reflect.TypeOf(v).Elem()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, ok := keys[name]; !ok && !strings.Contains(","+opts+",", ",omitempty,") {
			t.Fatalf("line %s lacks %q (field %s of %T)", line, name, f.Name, v)
		}
	}
}
