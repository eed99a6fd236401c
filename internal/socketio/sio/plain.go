package sio

import "encoding/json"

// plainArgs is data as plain values for the cluster (see adapter.Packet).
func plainArgs(data []any) []any {
	out := make([]any, len(data))
	for i, v := range data {
		out[i] = plain(v)
	}
	return out
}

// plain converts v to string, float64, bool, nil, []byte, []any and
// map[string]any; other types go through their JSON form.
func plain(v any) any {
	switch v := v.(type) {
	case nil, string, float64, bool, []byte:
		return v
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case []any:
		return plainArgs(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = plain(e)
		}
		return out
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		var out any
		if json.Unmarshal(b, &out) != nil {
			return nil
		}
		return out
	}
}
