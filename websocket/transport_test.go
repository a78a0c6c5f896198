package websocket_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/websocket"
)

func TestOversizedMessageCloses1009(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{MaxMessageSize: 1024})
	c := dial(t, ts, nil)
	c.connect()
	c.send(`{"id":2,"publish":{"channel":"a","data":"` + strings.Repeat("x", 2000) + `"}}`)
	if got := c.closeStatus(); got != cws.StatusMessageTooBig {
		t.Fatalf("close status %d, want 1009", got)
	}
}

func TestBinaryFrameCloses1003(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	if err := c.conn.Write(t.Context(), cws.MessageBinary, []byte(`{"id":2,"ping":{}}`)); err != nil {
		t.Fatal(err)
	}
	if got := c.closeStatus(); got != cws.StatusUnsupportedData {
		t.Fatalf("close status %d, want 1003", got)
	}
}

func TestInvalidUTF8Closes1007(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	c.send("{\"id\":2,\"subscribe\":{\"channel\":\"\xff\xfe\"}}")
	if got := c.closeStatus(); got != cws.StatusInvalidFramePayloadData {
		t.Fatalf("close status %d, want 1007", got)
	}
}

func TestOrigin(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{OriginPatterns: []string{"*.example.com"}})
	host := strings.TrimPrefix(ts.URL, "http://")
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"http://" + host, true},
		{"https://app.example.com", true},
		{"https://evil.com", false},
		{"https://example.com.evil.com", false},
		{"null", false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, res, err := cws.Dial(ctx, ts.wsURL(), &cws.DialOptions{HTTPHeader: h})
		cancel()
		if tt.ok != (err == nil) {
			t.Errorf("origin %q: err %v, want ok=%v", tt.origin, err, tt.ok)
		}
		if err == nil {
			conn.Close(cws.StatusNormalClosure, "")
			continue
		}
		if res == nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: want 403, got %v", tt.origin, res)
			continue
		}
		body, _ := io.ReadAll(res.Body)
		if !strings.Contains(string(body), "websocket.origins") {
			t.Errorf("origin %q: the refusal should say how to allow it: %s", tt.origin, body)
		}
	}
}

func TestSubprotocol(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, &cws.DialOptions{Subprotocols: []string{"other", websocket.Subprotocol}})
	if got := c.conn.Subprotocol(); got != websocket.Subprotocol {
		t.Fatalf("negotiated %q", got)
	}
	c.connect()

	_, res, err := cws.Dial(t.Context(), ts.wsURL(), &cws.DialOptions{Subprotocols: []string{"mqtt"}})
	if err == nil || res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown subprotocol: err %v, response %v", err, res)
	}
}

func TestCompressionNoContextTakeover(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{Compression: true, CompressionThreshold: 64})
	c := dial(t, ts, &cws.DialOptions{CompressionMode: cws.CompressionNoContextTakeover})
	c.connect()
	c.subscribe("big")
	data := `"` + strings.Repeat("compressible ", 200) + `"`
	for range 3 {
		ts.publish(t, "big", data)
		if got := c.next()["pub"].(map[string]any)["data"]; got != strings.Trim(data, `"`) {
			t.Fatalf("got %v", got)
		}
	}
	// A compressed command from the client is understood too, and its own
	// publication comes back.
	c.send(`{"id":9,"publish":{"channel":"big","data":` + data + `}}`)
	if got := ownPublication(t, c, "big", 9)["data"]; got != strings.Trim(data, `"`) {
		t.Fatalf("got %v back", got)
	}
}

func TestNoPongDisconnects(t *testing.T) {
	ts := startServer(t, hub.Config{PingInterval: 200 * time.Millisecond, PongTimeout: 200 * time.Millisecond}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	if got := c.closeStatus(); int(got) != int(herald.DisconnectNoPong.Code) {
		t.Fatalf("close status %d, want %d", got, herald.DisconnectNoPong.Code)
	}
}

// A client that answers pings stays connected across many intervals.
func TestPongKeepsConnection(t *testing.T) {
	ts := startServer(t, hub.Config{PingInterval: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	for pings := 0; pings < 5; {
		select {
		case m := <-c.in:
			if _, ok := m["ping"]; ok {
				pings++
				c.send(`{"pong":{}}`)
			}
		case <-c.done:
			t.Fatalf("disconnected after %d pings: %v", pings, c.err)
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	if r := c.call("ping", `{}`); r["pong"] == nil {
		t.Fatalf("%v", r)
	}
}

func TestConnectTimeout(t *testing.T) {
	ts := startServer(t, hub.Config{ConnectTimeout: 200 * time.Millisecond}, websocket.Options{})
	c := dial(t, ts, nil)
	if got := c.closeStatus(); int(got) != int(herald.DisconnectConnectTimeout.Code) {
		t.Fatalf("close status %d, want %d", got, herald.DisconnectConnectTimeout.Code)
	}
}

// A subscriber that stops reading is cut off as slow; the publisher never
// waits for it, and a healthy subscriber gets everything.
func TestSlowSubscriberIsDisconnected(t *testing.T) {
	ts := startServer(t, hub.Config{QueueSize: 64 << 10}, websocket.Options{})
	healthy := dial(t, ts, nil)
	healthy.connect()
	healthy.subscribe("firehose")

	// A raw client that subscribes and then never reads again.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slow, _, err := cws.Dial(ctx, ts.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	_ = slow.Write(ctx, cws.MessageText, []byte("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"firehose\"}}"))
	waitFor(t, func() bool { return ts.hub.Info().NumChannels == 1 && subscribers(ts) == 2 })

	// The publisher paces itself on the healthy subscriber only; the slow
	// one fills its socket buffers, then its queue, and is cut off.
	payload := []byte(`"` + strings.Repeat("x", 16<<10) + `"`)
	for i := 0; subscribers(ts) == 2; i++ {
		if i == 10000 { // 160 MB: far more than socket buffers and the queue hold
			t.Fatal("the slow subscriber was never disconnected")
		}
		if _, err := ts.hub.Publish(ctx, "firehose", payload, hub.PublishRequest{Source: "api"}); err != nil {
			t.Fatal(err)
		}
		if m := healthy.next(); m["pub"] == nil {
			t.Fatalf("healthy subscriber, message %d: %v", i, m)
		}
	}
	if got := gaugeValue(ts, "herald_queue_drops_total"); got != 1 {
		t.Fatalf("herald_queue_drops_total = %v", got)
	}
}

func TestShutdownTellsClientsToReconnect(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.hub.Shutdown(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	push := c.next()
	d, _ := push["disconnect"].(map[string]any)
	if d == nil || d["code"] != float64(herald.DisconnectShutdown.Code) || d["reconnect"] != true {
		t.Fatalf("push %v", push)
	}
	if got := c.closeStatus(); int(got) != int(herald.DisconnectShutdown.Code) {
		t.Fatalf("close status %d", got)
	}
	// Draining: new connections are turned away with the same advice.
	late := dial(t, ts, nil)
	if got := late.closeStatus(); int(got) != int(herald.DisconnectShutdown.Code) {
		t.Fatalf("late connection: close status %d", got)
	}
}

func subscribers(ts *testServer) int {
	return int(gaugeValue(ts, "herald_subscriptions"))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
