package sse_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldrt/herald/sse"
)

// TestOrigin: the streams and the emulation endpoint apply websocket.origins
// as the WebSocket handshake does, and give an allowed page the CORS
// headers its fetch needs.
func TestOrigin(t *testing.T) {
	n := startNode(t, nil, sse.Options{OriginPatterns: []string{"app.example.com"}})
	do := func(method, path, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, n.URL+path, strings.NewReader(`{"id":1,"ping":{}}`))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	for _, path := range []string{"/connection/sse", "/connection/http_stream", "/connection/emulation"} {
		res := do(http.MethodPost, path, "https://evil.example.net")
		if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s from another site: %s, ACAO %q", path, res.Status, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	res := do(http.MethodOptions, "/connection/emulation", "https://app.example.com")
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), sse.HeaderToken) {
		t.Fatalf("preflight from an allowed origin: %s %v", res.Status, res.Header)
	}
	res = do(http.MethodPost, "/connection/emulation", "https://app.example.com")
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("POST without a session from an allowed origin: %s %v", res.Status, res.Header)
	}
	if res := do(http.MethodPost, "/connection/sse", ""); res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to a stream: %s", res.Status)
	}
}
