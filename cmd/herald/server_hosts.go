package main

import "net"

// ownHosts are the names the WebSocket handler takes as this server's own:
// websocket.hosts and the listen address's host when it is a name (an
// address, loopback or not, needs no listing).
func ownHosts(cfg Config) []string {
	hosts := append([]string(nil), cfg.WebSocket.Hosts...)
	if h, _, err := net.SplitHostPort(cfg.Listen); err == nil && h != "" && net.ParseIP(h) == nil {
		hosts = append(hosts, h)
	}
	return hosts
}
