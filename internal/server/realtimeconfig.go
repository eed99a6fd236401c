package server

import (
	"net/netip"
	"net/url"

	"github.com/coworkctl/coworkctl/internal/server/realtime"
	"github.com/coworkctl/coworkctl/internal/server/upstream"
)

// RealtimeConfig tunes the Socket.IO endpoint and its limits: the hub's
// own Config, named here so that commands configure the server without
// importing the hub. Zero values take the hub's defaults (DefaultConfig
// shows them). Socket.Cluster is set by the server when it has Redis.
type RealtimeConfig = realtime.Config

// ParseTrustedProxies reads a comma-separated list of CIDR prefixes or
// single addresses, e.g. "10.0.0.0/8,192.168.1.7".
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	return realtime.ParseTrustedProxies(list)
}

// ParseUpstream checks an --upstream value: an absolute http or https URL.
func ParseUpstream(raw string) (*url.URL, error) { return upstream.ParseURL(raw) }
