package realtime

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.168.1.7")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted bool
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies: header ignored", false, "10.1.1.1:5000", []string{"1.2.3.4"}, "10.1.1.1"},
		{"untrusted peer: header ignored", true, "8.8.8.8:5000", []string{"1.2.3.4"}, "8.8.8.8"},
		{"trusted peer", true, "10.1.1.1:5000", []string{"1.2.3.4"}, "1.2.3.4"},
		{"spoofed left entry skipped", true, "10.1.1.1:5000", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},
		{"chain of trusted proxies", true, "10.1.1.1:5000", []string{"1.2.3.4, 192.168.1.7", "10.2.2.2"}, "1.2.3.4"},
		{"all trusted", true, "10.1.1.1:5000", []string{"10.3.3.3"}, "10.3.3.3"},
		{"garbage hop", true, "10.1.1.1:5000", []string{"nonsense, 10.3.3.3"}, "10.3.3.3"},
		{"no header", true, "10.1.1.1:5000", nil, "10.1.1.1"},
		{"ipv4-mapped peer", true, "[::ffff:10.1.1.1]:5000", []string{"1.2.3.4"}, "1.2.3.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/socket.io/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			var tp = trusted
			if !tt.trusted {
				tp = nil
			}
			if got := clientAddress(tp)(r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad prefix was accepted")
	}
}
