package websocket_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/websocket"
)

// rawHandshake sends an upgrade request with the Host and Origin given
// (a Go HTTP client cannot send an arbitrary Host header) and returns the
// response's status.
func rawHandshake(t *testing.T, ts *testServer, host, origin string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", ts.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /connection/websocket HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// A page on a name the attacker points at the server (DNS rebinding) sends
// that name as both Host and Origin: it must not pass as same-origin.
func TestDNSRebindingIsRefused(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{Hosts: []string{"chat.example.com", "*.herald.test"}})
	port := ts.Listener.Addr().(*net.TCPAddr).Port
	p := ":" + itoa(uint32(port))
	tests := []struct {
		host, origin string
		want         int
	}{
		{"rebind.evil.example" + p, "http://rebind.evil.example" + p, http.StatusForbidden},
		{"rebind.evil.example", "http://rebind.evil.example", http.StatusForbidden},
		{"chat.example.com", "https://chat.example.com", http.StatusSwitchingProtocols},
		{"a.herald.test" + p, "http://a.herald.test" + p, http.StatusSwitchingProtocols},
		{"localhost" + p, "http://localhost" + p, http.StatusSwitchingProtocols},
		{"app.localhost" + p, "http://app.localhost" + p, http.StatusSwitchingProtocols},
		{"127.0.0.1" + p, "http://127.0.0.1" + p, http.StatusSwitchingProtocols},
		{"[::1]" + p, "http://[::1]" + p, http.StatusSwitchingProtocols},
		{"10.1.2.3" + p, "http://10.1.2.3" + p, http.StatusSwitchingProtocols},
		// Not a browser: no Origin, whatever the Host.
		{"rebind.evil.example", "", http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		if got := rawHandshake(t, ts, tt.host, tt.origin); got != tt.want {
			t.Errorf("Host %q Origin %q: HTTP %d, want %d", tt.host, tt.origin, got, tt.want)
		}
	}
	if got := gaugeValue(ts, `herald_handshake_refusals_total{reason="host"}`); got != 2 {
		t.Fatalf("%v refusals counted with reason host, want 2", got)
	}
}

// A compressed message small on the wire that inflates past the limit gets
// the same 1009 as an uncompressed one.
func TestInflatedOversizeCloses1009(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{MaxMessageSize: 4096, Compression: true})
	c := dial(t, ts, &cws.DialOptions{CompressionMode: cws.CompressionNoContextTakeover})
	c.connect()
	c.send(`{"id":2,"publish":{"channel":"a","data":"` + strings.Repeat("x", 200<<10) + `"}}`)
	if got := c.closeStatus(); got != cws.StatusMessageTooBig {
		t.Fatalf("close status %d (%v), want 1009", got, c.err)
	}
}
