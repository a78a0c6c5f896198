package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/admin"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
)

const secret = "admin-test-secret"

// newServer serves the admin API and UI of a real hub on a memory broker
// over a loopback socket.
func newServer(t *testing.T, secret string) (*httptest.Server, *hub.Hub) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Config{Namespaces: herald.Namespaces{AnyNamespace: true}, NodeName: "node-1", Logger: log}, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/api/", admin.NewHandler(admin.Options{Secret: secret, Logger: log}, h))
	mux.Handle("/admin/", admin.UI(secret))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		_ = h.Close()
	})
	return srv, h
}

func call(t *testing.T, srv *httptest.Server, method, path, auth, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

var endpoints = []struct{ method, path, body string }{
	{"GET", "/admin/api/nodes", ""},
	{"GET", "/admin/api/channels", ""},
	{"GET", "/admin/api/connections", ""},
	{"GET", "/admin/api/disconnects", ""},
	{"GET", "/admin/api/trace?user=42", ""},
	{"GET", "/admin/api/tap?channel=news", ""},
	{"POST", "/admin/api/publish", `{"channel":"news","data":1}`},
}

// Every endpoint refuses a request without the secret or with a wrong
// one (401), and all of them refuse when no secret is configured (403),
// as does the UI.
func TestEndpointsNeedTheSecret(t *testing.T) {
	srv, _ := newServer(t, secret)
	off, _ := newServer(t, "")
	for _, e := range endpoints {
		for _, auth := range []string{"", "admin wrong", "apikey " + secret, secret} {
			res, body := call(t, srv, e.method, e.path, auth, e.body)
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"code":101`) {
				t.Errorf("%s %s with %q: %d %s, want 401 unauthorized", e.method, e.path, auth, res.StatusCode, body)
			}
		}
		if res, body := call(t, off, e.method, e.path, "admin ", e.body); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s with no secret set: %d %s, want 403", e.method, e.path, res.StatusCode, body)
		}
	}
	if res, body := call(t, off, "GET", "/admin/", "", ""); res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "admin.secret") {
		t.Errorf("UI with no secret set: %d %s, want 403 naming admin.secret", res.StatusCode, body)
	}
}

// The UI's files are served without the secret (they hold none), with
// headers that keep the page to itself.
func TestUIServesItsFiles(t *testing.T) {
	srv, _ := newServer(t, secret)
	for path, want := range map[string]string{"/admin/": "<title>Herald admin</title>", "/admin/admin.js": "sessionStorage", "/admin/admin.css": "--mono"} {
		res, body := call(t, srv, "GET", path, "", "")
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want 200 with %q", path, res.StatusCode, want)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: Referrer-Policy %q, want no-referrer", path, res.Header.Get("Referrer-Policy"))
		}
	}
	if res, _ := call(t, srv, "GET", "/admin/nothing.js", "", ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin/nothing.js: %d, want 404", res.StatusCode)
	}
	if res, _ := call(t, srv, "POST", "/admin/", "", ""); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /admin/: %d, want 405", res.StatusCode)
	}
}

// recorder is a transport that keeps nothing: enough for a session that
// only needs to exist.
type recorder struct {
	mu     sync.Mutex
	closed bool
}

func (*recorder) Name() string         { return "test" }
func (*recorder) Write([][]byte) error { return nil }
func (r *recorder) Close(herald.Disconnect) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

// The node, its channels with their subscribers, a tap that sees what
// the publish endpoint publishes, and the disconnects by minute.
func TestNodesChannelsTapPublishDisconnects(t *testing.T) {
	srv, h := newServer(t, secret)
	auth := "admin " + secret
	s, err := h.Accept(&recorder{}, herald.ConnInfo{RemoteAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	s.HandleFrame([]byte(`{"id":1,"connect":{}}`))
	s.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"news"}}`))

	res, body := call(t, srv, "GET", "/admin/api/nodes", auth, "")
	var nodes struct {
		Nodes []struct {
			Name       string `json:"name"`
			NumClients int    `json:"num_clients"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(body, &nodes); err != nil || res.StatusCode != 200 || len(nodes.Nodes) != 1 || nodes.Nodes[0].Name != "node-1" {
		t.Fatalf("nodes: %d %s", res.StatusCode, body)
	}

	var chans struct {
		Channels map[string]hub.ChannelInfo `json:"channels"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for chans.Channels["news"].NumClients != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("channels: %s, want news with 1 subscriber", body)
		}
		_, body = call(t, srv, "GET", "/admin/api/channels?pattern=n*", auth, "")
		_ = json.Unmarshal(body, &chans)
		time.Sleep(5 * time.Millisecond)
	}
	if res, body := call(t, srv, "GET", "/admin/api/channels?pattern=[", auth, ""); res.StatusCode != 400 {
		t.Errorf("bad pattern: %d %s, want 400", res.StatusCode, body)
	}

	// The tap: its first line says it runs, then the publication.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/admin/api/tap?channel=news", nil)
	req.Header.Set("Authorization", auth)
	tapRes, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer tapRes.Body.Close()
	if ct := tapRes.Header.Get("Content-Type"); tapRes.StatusCode != 200 || ct != "application/x-ndjson" {
		t.Fatalf("tap: %d %s", tapRes.StatusCode, ct)
	}
	lines := bufio.NewScanner(tapRes.Body)
	var line hub.TapLine
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &line) != nil || line.Event != "tap_started" {
		t.Fatalf("first tap line %q, want tap_started", lines.Text())
	}
	if res, body := call(t, srv, "POST", "/admin/api/publish", auth, `{"channel":"news","data":{"text":"from the form"}}`); res.StatusCode != 200 {
		t.Fatalf("publish: %d %s", res.StatusCode, body)
	}
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &line) != nil || string(line.Data) != `{"text":"from the form"}` || line.Channel != "news" {
		t.Fatalf("tap line %q, want the publication", lines.Text())
	}
	cancel()

	for _, bad := range []struct{ path, body string }{
		{"/admin/api/tap", ""},
		{"/admin/api/publish", `{"channel":"news"}`},
		{"/admin/api/publish", `{"channel":"news","data":not json}`},
		{"/admin/api/publish", `{"channel":"news","data":1,"extra":1}`},
		{"/admin/api/publish", ``},
		{"/admin/api/disconnects?minutes=0", ""},
		{"/admin/api/disconnects?minutes=61", ""},
		{"/admin/api/connections?limit=x", ""},
	} {
		method := "GET"
		if bad.body != "" || strings.HasSuffix(bad.path, "publish") {
			method = "POST"
		}
		res, body := call(t, srv, method, bad.path, auth, bad.body)
		if res.StatusCode != 400 || !strings.Contains(string(body), `"code":107`) {
			t.Errorf("%s %s %s: %d %s, want 400 bad_request", method, bad.path, bad.body, res.StatusCode, body)
		}
	}
	if res, body := call(t, srv, "GET", "/admin/api/nope", auth, ""); res.StatusCode != 404 {
		t.Errorf("unknown endpoint: %d %s, want 404", res.StatusCode, body)
	}

	// The connection ends; the series has it under its minute.
	s.HandleClose(nil)
	var disc hub.DisconnectsResult
	_, body = call(t, srv, "GET", "/admin/api/disconnects?minutes=3", auth, "")
	if err := json.Unmarshal(body, &disc); err != nil || len(disc.Minutes) != 3 {
		t.Fatalf("disconnects: %s, want 3 minutes", body)
	}
	total := 0
	for _, m := range disc.Minutes {
		total += m.Codes["0"]
	}
	if total != 1 || disc.Names["0"] != "connection_lost" {
		t.Fatalf("disconnects: %s, want one connection_lost", body)
	}
}
