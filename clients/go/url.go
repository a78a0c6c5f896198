package client

import (
	"fmt"
	"net/url"
	"strings"
)

// endpointPath is the server's WebSocket endpoint.
const endpointPath = "/connection/websocket"

// endpointURL turns the URL given to New into the WebSocket endpoint:
// people copy a server's base URL far more often than they know the
// endpoint path, so a base URL (http, https, ws or wss, with or without a
// path prefix under which a proxy mounts the server) gets the endpoint
// appended, and a URL that already ends with it is used as given.
func endpointURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		return "", fmt.Errorf("herald: URL %q has no scheme, e.g. https://%s", raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("herald: invalid URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("herald: URL %q: scheme %q is not one of http, https, ws, wss", raw, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("herald: URL %q has no host", raw)
	}
	u.Fragment, u.RawFragment = "", ""
	path := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(path, endpointPath) {
		path += endpointPath
	}
	u.Path, u.RawPath = path, ""
	return u.String(), nil
}
