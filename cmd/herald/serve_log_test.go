package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestRefusedHandshakeLogged: a page on a foreign origin sees only close
// 1006, so serve's log at its default level says why, naming the origin
// and the setting that would allow it, once per refusal.
func TestRefusedHandshakeLogged(t *testing.T) {
	t.Parallel()
	base, server := startServer(t)
	ws := strings.Replace(base, "http://", "ws://", 1) + "/connection/websocket"
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		conn, res, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		cancel()
		if err == nil {
			conn.CloseNow()
			t.Fatal("a foreign origin was let in")
		}
		if res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign origin: %v, want 403", err)
		}
	}
	refused := func(s string) int { return strings.Count(s, "WebSocket handshake refused") }
	server.waitFor(t, server.stderr, "two refusals logged", func(s string) bool { return refused(s) >= 2 })
	for _, line := range strings.Split(server.stderr.String(), "\n") {
		if refused(line) == 0 {
			continue
		}
		for _, want := range []string{"level=INFO", "origin=https://evil.example", "setting=websocket.origins", "reason=origin"} {
			if !strings.Contains(line, want) {
				t.Errorf("log line %q lacks %q", line, want)
			}
		}
	}
	if n := refused(server.stderr.String()); n != 2 {
		t.Errorf("%d refusals logged for 2 handshakes", n)
	}
}
