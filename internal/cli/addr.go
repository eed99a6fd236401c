package cli

import "net"

// tcpAddr parses "host:port" into a net.Addr for URL printing.
func tcpAddr(s string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		return &net.TCPAddr{}
	}
	return a
}
