package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The server's well-known paths, appended to a base URL.
const (
	websocketPath = "/connection/websocket"
	publishPath   = "/api/publish"
)

// websocketURL turns the URL a person gives the tools into the WebSocket
// endpoint. People copy the server's base URL from a browser or a config
// file far more often than they know the endpoint path, so a base URL
// (http, https, ws or wss, with or without a path prefix) gets the endpoint
// appended, and a URL that already names the endpoint is used as given.
func websocketURL(raw string) (string, error) {
	u, err := parseURLAs(raw, "URL", "ws", "wss")
	if err != nil {
		return "", err
	}
	u.Path = withEndpoint(u.Path, websocketPath)
	u.RawPath = ""
	return u.String(), nil
}

// apiURL returns the server API endpoint under the base URL raw. The URL
// the server prints at start, ws://HOST/connection/websocket, is what
// people copy, so a WebSocket endpoint URL names the server it is on, as it
// does for sub and check.
func apiURL(raw, endpoint string) (string, error) {
	u, err := parseURLAs(raw, "API URL", "http", "https")
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), websocketPath)
	u.Path = withEndpoint(u.Path, endpoint)
	u.RawPath = ""
	return u.String(), nil
}

// parseURLAs parses raw with parseBaseURL and gives it the scheme plain or
// secure of the protocol wanted, whichever of http, https, ws, wss it had:
// the same server answers both. label names the URL in errors.
func parseURLAs(raw, label, plain, secure string) (*url.URL, error) {
	u, err := parseBaseURL(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = plain
	case "https", "wss":
		u.Scheme = secure
	default:
		return nil, fmt.Errorf("%s %q: scheme %q is not one of http, https, ws, wss", label, raw, u.Scheme)
	}
	return u, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("empty URL: give the server's URL, e.g. http://127.0.0.1:8000")
	}
	// Without "://", url.Parse reads "localhost:8000" as scheme "localhost";
	// the likeliest intent is a host and port, so say what to type instead.
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("URL %q has no scheme: did you mean http://%s ?", raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, which the message already quotes.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("invalid URL %q: %v", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Host == "" {
		return nil, fmt.Errorf("URL %q has no host", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("URL %q: a fragment (#...) is never sent to the server; remove it", raw)
	}
	return u, nil
}

// withEndpoint appends endpoint to path unless path already ends with it,
// keeping any prefix under which a reverse proxy mounts the server.
func withEndpoint(path, endpoint string) string {
	path = strings.TrimRight(path, "/")
	if strings.HasSuffix(path, endpoint) {
		return path
	}
	return path + endpoint
}
