package websocket

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// CheckOrigin allows requests without Origin (non-browser clients, which
// could send any Origin anyway), same-origin requests to one of the server's
// own host names, and origins whose host matches one of the patterns. It is
// a defence against cross-site WebSocket hijacking from browsers, not
// authentication.
func CheckOrigin(r *http.Request, patterns, hosts []string) (reason string, err error) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "", nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return "origin", fmt.Errorf("origin %q is not allowed (it is not a web origin): allowed are the server's own and websocket.origins", origin)
	}
	for _, p := range patterns {
		if p == "*" {
			return "", nil
		}
		host := u.Host
		if !strings.Contains(p, ":") {
			host = u.Hostname()
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(host)); ok {
			return "", nil
		}
	}
	if strings.EqualFold(u.Host, r.Host) {
		// Origin equal to Host proves nothing by itself: a page on a name
		// the attacker re-points at this server (DNS rebinding) sends both
		// as its own name. Only a name the server knows as its own, or an
		// address (rebinding needs a name), makes it same-origin.
		if ownHost(r.Host, hosts) {
			return "", nil
		}
		return "host", fmt.Errorf("host %q is not one of this server's names: add it to websocket.hosts (behind a proxy: the public name clients use)", r.Host)
	}
	return "origin", fmt.Errorf("origin %q is not allowed: add its host to websocket.origins", origin)
}

// ownHost says whether a Host header names this server: an IP address, a
// loopback name, or one of hosts (patterns like "*.example.com"; the port
// is ignored).
func ownHost(hostport string, hosts []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, p := range hosts {
		if h, _, err := net.SplitHostPort(p); err == nil {
			p = h
		}
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}
