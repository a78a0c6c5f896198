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
	u, err := parseBaseURL(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("URL %q: scheme %q is not one of http, https, ws, wss", raw, u.Scheme)
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
	u, err := parseBaseURL(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	case "http", "https":
	default:
		return "", fmt.Errorf("API URL %q: scheme %q is not one of http, https, ws, wss", raw, u.Scheme)
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), websocketPath)
	u.Path = withEndpoint(u.Path, endpoint)
	u.RawPath = ""
	return u.String(), nil
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
