package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald/auth"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/redistest"
)

const testAdminSecret = "admin-secret-for-tests"

// startAdminNodes starts two nodes on one redis-server with the admin API
// on, token auth and a small queue; node-a pings every second, node-b at
// the default 25s, so that a client that reads nothing is cut there as
// slow rather than for its missed pings.
func startAdminNodes(t *testing.T) (a, b string) {
	t.Helper()
	r := redistest.Start(t)
	env := func(name string, extra ...string) []string {
		return append([]string{"HERALD_BROKER=redis", "HERALD_REDIS_ADDRESS=" + r.Addr, "HERALD_NAME=" + name,
			"HERALD_ADMIN_SECRET=" + testAdminSecret, "HERALD_TOKEN_HMAC_SECRET=" + testHMACSecret,
			"HERALD_CLIENT_EXPIRE_GRACE=1s", "HERALD_CLIENT_QUEUE_SIZE=65536", "HERALD_SHUTDOWN_DRAIN=200ms"}, extra...)
	}
	a, _ = startServe(t, env("node-a", "HERALD_CLIENT_PING_INTERVAL=1s", "HERALD_CLIENT_PONG_TIMEOUT=1s"), "--api-key", testAPIKey)
	b, _ = startServe(t, env("node-b"), "--api-key", testAPIKey)
	waitReady(t, a, http.StatusOK)
	waitReady(t, b, http.StatusOK)
	return a, b
}

func mintTest(t *testing.T, user string, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Mint(testHMACSecret, auth.MintClaims{User: user, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawClient is a WebSocket client that does only what the test says: it
// never answers a ping by itself.
type rawClient struct {
	c    *websocket.Conn
	msgs chan string
	pong bool // answer pings, as a healthy client does
}

func dialRaw(t *testing.T, base string) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws := "ws" + strings.TrimPrefix(base, "http") + "/connection/websocket"
	c, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPHeader: http.Header{"User-Agent": {"timeline-test/1"}, "X-Forwarded-For": {"203.0.113.7"}}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	return &rawClient{c: c, msgs: make(chan string, 1024)}
}

func (r *rawClient) send(t *testing.T, frame string) {
	t.Helper()
	if err := r.c.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
}

// readAll reads until the connection ends, keeping the frames.
func (r *rawClient) readAll() {
	go func() {
		for {
			_, data, err := r.c.Read(context.Background())
			if err != nil {
				close(r.msgs)
				return
			}
			if r.pong && string(data) == `{"ping":{}}` {
				_ = r.c.Write(context.Background(), websocket.MessageText, []byte(`{"pong":{}}`))
			}
			select {
			case r.msgs <- string(data):
			default:
			}
		}
	}()
}

// adminConnections asks node base's admin API.
func adminConnections(t *testing.T, base, query string) hub.ConnectionsResult {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/api/connections?"+query, nil)
	req.Header.Set("Authorization", "admin "+testAdminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/api/connections?%s: %s", query, resp.Status)
	}
	var res hub.ConnectionsResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// waitTimeline waits until node base lists a closed connection that pick
// chooses and returns it.
func waitTimeline(t *testing.T, base, query string, pick func(hub.ConnectionInfo) bool) hub.ConnectionInfo {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last hub.ConnectionsResult
	for time.Now().Before(deadline) {
		last = adminConnections(t, base, query)
		for _, c := range last.Connections {
			if !c.Closed.IsZero() && pick(c) {
				return c
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no closed connection as expected for %q on %s; got %+v", query, base, last)
	return hub.ConnectionInfo{}
}

func hasEvent(c hub.ConnectionInfo, kind string, code uint32) bool {
	for _, e := range c.Events {
		if e.Kind == kind && (code == 0 || e.Code == code) {
			return true
		}
	}
	return false
}

// kinds lists the timeline's event kinds in order.
func kinds(c hub.ConnectionInfo) string {
	var k []string
	for _, e := range c.Events {
		k = append(k, e.Kind)
	}
	return strings.Join(k, ",")
}

// Each way a connection ends shows on its timeline, on the node that
// served it and through the admin API of the other node.
func TestAdminTimelines(t *testing.T) {
	t.Parallel()
	a, b := startAdminNodes(t)

	// Missed pings: the client reads but never answers.
	pinger := dialRaw(t, a)
	pinger.send(t, fmt.Sprintf(`{"id":1,"connect":{"token":%q,"name":"raw","last_disconnect":{"code":1006,"reason":"3 pings missed"}}}`, mintTest(t, "pinger", time.Hour)))
	pinger.readAll()

	// Expiry: a token that lives 2s and is never refreshed.
	expiring := dialRaw(t, a)
	expiring.pong = true
	expiring.send(t, fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, mintTest(t, "expiring", 2*time.Second)))
	expiring.readAll()

	// Refused by auth: a token signed with another secret.
	bad, err := auth.Mint("another-secret-another-secret-another-0123", auth.MintClaims{User: "intruder", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	refused := dialRaw(t, a)
	refused.send(t, fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, bad))
	refused.readAll()

	// Slow: subscribes, answers nothing and reads nothing while
	// publications pile up.
	slow := dialRaw(t, b)
	slow.send(t, fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`+"\n"+`{"id":2,"subscribe":{"channel":"firehose"}}`, mintTest(t, "slowpoke", time.Hour)))
	waitFor(t, "the slow client's subscription", func() bool {
		res := adminConnections(t, b, "user=slowpoke")
		return len(res.Connections) == 1 && len(res.Connections[0].Channels) == 1
	})
	payload := `"` + strings.Repeat("x", 200<<10) + `"`
	waitFor(t, "the slow client to be cut off", func() bool {
		if code, body := apiPublishQuiet(a, "firehose", payload); code != http.StatusOK {
			t.Logf("publish: %d %s", code, body)
		}
		res := adminConnections(t, b, "user=slowpoke")
		return len(res.Connections) == 1 && !res.Connections[0].Closed.IsZero()
	})

	for _, node := range []string{a, b} {
		c := waitTimeline(t, node, "user=pinger", func(c hub.ConnectionInfo) bool { return hasEvent(c, "disconnect", 4002) })
		if !hasEvent(c, "no_pong", 0) || !hasEvent(c, "client_last_disconnect", 1006) || !hasEvent(c, "handshake", 0) || !hasEvent(c, "connect", 0) {
			t.Errorf("%s: missed pings: timeline %s, want handshake, client_last_disconnect 1006, connect, no_pong, disconnect 4002: %+v", node, kinds(c), c.Events)
		}
		if c.NodeName != "node-a" || c.Forwarded != "203.0.113.7" || c.UserAgent != "timeline-test/1" || c.Transport != "websocket" {
			t.Errorf("%s: missed pings: handshake details %+v", node, c)
		}
		c = waitTimeline(t, node, "user=expiring", func(c hub.ConnectionInfo) bool { return hasEvent(c, "disconnect", 4005) })
		if !hasEvent(c, "expired", 0) {
			t.Errorf("%s: expiry: timeline %s, want expired then disconnect 4005", node, kinds(c))
		}
		c = waitTimeline(t, node, "user=slowpoke", func(c hub.ConnectionInfo) bool { return hasEvent(c, "disconnect", 4001) })
		if !hasEvent(c, "slow", 0) || !hasEvent(c, "subscribe", 0) {
			t.Errorf("%s: slow: timeline %s, want subscribe, slow, disconnect 4001", node, kinds(c))
		}
		c = waitTimeline(t, node, "", func(c hub.ConnectionInfo) bool { return hasEvent(c, "connect_refused", 0) })
		if c.User != "" || hasEvent(c, "connect", 0) || !hasEvent(c, "disconnect", 0) {
			t.Errorf("%s: refused: timeline %s (user %q), want handshake, connect_refused, disconnect", node, kinds(c), c.User)
		}
		raw, _ := json.Marshal(c)
		if strings.Contains(string(raw), bad) {
			t.Errorf("%s: the refused token appears in the timeline", node)
		}
	}
}

// The admin API refuses requests without the secret, and is off when no
// secret is configured.
func TestAdminAPIRefusesWithoutSecret(t *testing.T) {
	t.Parallel()
	a, _ := startServe(t, []string{"HERALD_ADMIN_SECRET=" + testAdminSecret}, "--dev")
	open, _ := startServe(t, nil, "--dev")
	for _, tc := range []struct {
		base, auth string
		want       int
	}{
		{a, "", http.StatusUnauthorized},
		{a, "admin wrong", http.StatusUnauthorized},
		{a, "apikey " + testAdminSecret, http.StatusUnauthorized},
		{open, "", http.StatusForbidden},
		{open, "admin ", http.StatusForbidden},
		{a, "admin " + testAdminSecret, http.StatusOK},
	} {
		for _, path := range []string{"/admin/api/connections", "/admin/api/trace?user=42", "/admin/api/nodes",
			"/admin/api/channels", "/admin/api/disconnects", "/admin/api/tap?channel=news"} {
			req, _ := http.NewRequest(http.MethodGet, tc.base+path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s%s with %q: %d, want %d", tc.base, path, tc.auth, resp.StatusCode, tc.want)
			}
		}
	}
}

// waitFor polls cond until it holds, failing after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, waitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The Go client tells the server how its last connection ended when it
// reconnects; the new connection's timeline shows it.
func TestAdminClientLastDisconnect(t *testing.T) {
	t.Parallel()
	a, _ := startServe(t, []string{"HERALD_ADMIN_SECRET=" + testAdminSecret, "HERALD_TOKEN_HMAC_SECRET=" + testHMACSecret}, "--api-key", testAPIKey)
	c := client.New(a, &client.Options{Token: mintTest(t, "carol", time.Hour), MinReconnectDelay: 10 * time.Millisecond, MaxReconnectDelay: 50 * time.Millisecond})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	body := strings.NewReader(`{"user":"carol","code":4006,"reason":"move along"}`)
	req, _ := http.NewRequest(http.MethodPost, a+"/api/disconnect", body)
	req.Header.Set("Authorization", "apikey "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("disconnect: %s", resp.Status)
	}
	waitFor(t, "the reconnected connection to tell its last disconnect", func() bool {
		for _, c := range adminConnections(t, a, "user=carol").Connections {
			for _, e := range c.Events {
				if e.Kind == "client_last_disconnect" && e.Code == 4006 && e.Text == "move along" {
					return c.Closed.IsZero()
				}
			}
		}
		return false
	})
}
