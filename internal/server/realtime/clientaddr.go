package realtime

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddress returns the address of the client behind a handshake:
// the peer's address, unless the peer is one of the trusted proxies, in
// which case X-Forwarded-For is read from the right, skipping trusted
// proxies, and its first other address is the client. Without trusted
// proxies the header is ignored, since any client can send it.
func clientAddress(trusted []netip.Prefix) func(r *http.Request) string {
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		if r == nil {
			return ""
		}
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		peer, err := netip.ParseAddr(host)
		if err != nil || len(trusted) == 0 || !isTrusted(peer) {
			return host
		}
		client := peer
		hops := r.Header.Values("X-Forwarded-For")
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					// A hop that is not an address: stop at the last
					// address a trusted proxy vouched for.
					return client.Unmap().String()
				}
				client = a
				if !isTrusted(a) {
					return a.Unmap().String()
				}
			}
		}
		return client.Unmap().String()
	}
}

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes or
// single addresses, e.g. "10.0.0.0/8,192.168.1.7".
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
