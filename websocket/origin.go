package websocket

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// CheckOrigin allows requests without Origin (non-browser clients, which
// could send any Origin anyway), same-origin requests, and origins whose host
// matches one of the patterns. It is a defence against cross-site WebSocket
// hijacking from browsers, not authentication.
func CheckOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not allowed (it is not a web origin): allowed are the server's own and websocket.origins", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, p := range patterns {
		if p == "*" {
			return nil
		}
		host := u.Host
		if !strings.Contains(p, ":") {
			host = u.Hostname()
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(host)); ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q is not allowed: add its host to websocket.origins", origin)
}
