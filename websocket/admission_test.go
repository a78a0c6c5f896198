package websocket_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/websocket"
)

// upgradeAs dials with X-Forwarded-For set to ip and returns the HTTP
// status and Retry-After of the answer.
func upgradeAs(t *testing.T, ts *testServer, ip string) (int, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := cws.Dial(ctx, ts.wsURL(), &cws.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {"10.9.9.9, " + ip}}})
	if err == nil {
		conn.Close(cws.StatusNormalClosure, "")
		return http.StatusSwitchingProtocols, 0
	}
	if res == nil {
		t.Fatalf("dial: %v", err)
	}
	after, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return res.StatusCode, after
}

func TestAdmissionPerIP(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{Admission: websocket.AdmissionOptions{
		RatePerIP: 0.1, BurstPerIP: 2, MaxWait: time.Hour, ClientIPHeader: "X-Forwarded-For"}})
	for i := range 2 {
		if got, _ := upgradeAs(t, ts, "192.0.2.1"); got != http.StatusSwitchingProtocols {
			t.Fatalf("connection %d within the burst: HTTP %d", i+1, got)
		}
	}
	// Past the burst: refused, each told a later time than the one
	// before, so that they do not all come back together.
	last := 0
	for i := range 3 {
		got, after := upgradeAs(t, ts, "192.0.2.1")
		if got != http.StatusServiceUnavailable || after <= last {
			t.Fatalf("refusal %d: HTTP %d Retry-After %d, want 503 and more than %d", i+1, got, after, last)
		}
		last = after
	}
	// Only that address: the proxy's own (the header's first entry is
	// the client's claim, not counted) and others still get in.
	if got, _ := upgradeAs(t, ts, "192.0.2.2"); got != http.StatusSwitchingProtocols {
		t.Fatalf("another address: HTTP %d", got)
	}
	if n := gaugeValue(ts, `herald_handshake_refusals_total{reason="rate_ip"}`); n != 3 {
		t.Fatalf("%v rate_ip refusals counted, want 3", n)
	}
}

func TestAdmissionPerNode(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{Admission: websocket.AdmissionOptions{
		Rate: 0.1, Burst: 3, MaxWait: 25 * time.Second}})
	for i := range 3 {
		c := dial(t, ts, nil)
		c.connect()
		_ = i
	}
	want := []int{10, 20, 25, 25} // spread at the rate, up to MaxWait
	for i, w := range want {
		got, after := upgradeAs(t, ts, "192.0.2."+strconv.Itoa(i+1))
		if got != http.StatusServiceUnavailable || after != w {
			t.Fatalf("refusal %d: HTTP %d Retry-After %d, want 503 and %d", i+1, got, after, w)
		}
	}
}

// TestSlowHandshakesCapped: connections that never finish their request
// (headers a byte at a time) are capped, so a new client is answered at
// once (503, Retry-After) instead of the listener running out of
// descriptors, and is let in as soon as one slow connection goes.
func TestSlowHandshakesCapped(t *testing.T) {
	m := metrics.New()
	h := hub.New(hub.Config{Metrics: m}, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lim := websocket.NewHandshakeLimiter(websocket.HandshakeLimits{Max: 5, Metrics: m})
	srv := httptest.NewUnstartedServer(websocket.NewHandler(websocket.Options{Metrics: m}, h))
	srv.Config.ConnState = lim.ConnState
	srv.Config.ReadHeaderTimeout = time.Minute
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	var slow []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET /connection/websocket HTTP/1.1\r\nHo")); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
	}
	// The server counts a connection when it starts serving it, which
	// may be after Dial returns: wait for the cap to show.
	status := func() (int, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write([]byte("GET /connection/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	waitStatus := func(want int) string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, after := status()
			if got == want {
				return after
			}
			if time.Now().After(deadline) {
				t.Fatalf("HTTP %d, want %d", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if after := waitStatus(http.StatusServiceUnavailable); after != "1" {
		t.Fatalf("Retry-After %q, want 1", after)
	}
	slow[0].Close()
	waitStatus(http.StatusSwitchingProtocols)
}

// TestAdmittedSharesTheBudget: another transport's connection requests
// (the fallback streams, wrapped with Admitted) draw on the same per-node
// budget as WebSocket upgrades, so a storm that falls back to SSE is
// spread out too.
func TestAdmittedSharesTheBudget(t *testing.T) {
	h := hub.New(hub.Config{}, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ws := websocket.NewHandler(websocket.Options{Admission: websocket.AdmissionOptions{
		Rate: 0.1, Burst: 1, MaxWait: 25 * time.Second}}, h)
	streams := 0
	stream := ws.Admitted(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { streams++ }))
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", ws)
	mux.Handle("/connection/sse", stream)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func() (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + "/connection/sse")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	if code, _ := get(); code != http.StatusOK || streams != 1 {
		t.Fatalf("first stream: HTTP %d, %d streams opened; want 200 and 1", code, streams)
	}
	// The burst is spent: the next stream and the next upgrade are refused.
	if code, after := get(); code != http.StatusServiceUnavailable || after != "10" || streams != 1 {
		t.Fatalf("second stream: HTTP %d Retry-After %q, %d streams opened; want 503, 10 and 1", code, after, streams)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, res, err := cws.Dial(ctx, "ws"+srv.URL[len("http"):]+"/connection/websocket", nil)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade after two streams: %v (%v), want 503", err, res)
	}
}
