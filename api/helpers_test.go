package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/metrics"
)

const testKey = "test-api-key"

// testNamespaces: the default namespace keeps no history, "history" keeps
// some, "room" keeps presence, "news" is a plain named namespace; any other
// namespace is unknown.
var testNamespaces = herald.Namespaces{
	Named: map[string]herald.NamespaceOptions{
		"history": {HistorySize: 10, HistoryTTL: time.Minute},
		"room":    {Presence: true},
		"news":    {},
	},
}

// testVersion is the server version the hub reports.
const testVersion = "1.2.3-test"

// env is the real stack behind the API: memory broker, hub, API handler,
// served over a loopback socket.
type env struct {
	srv *httptest.Server
	hub *hub.Hub
	m   *metrics.Metrics
}

// newEnv starts the stack with opts; opts.Metrics is replaced by a fresh set.
func newEnv(t *testing.T, opts api.Options) *env {
	t.Helper()
	m := metrics.New()
	opts.Metrics = m
	h := hub.New(hub.Config{Namespaces: testNamespaces, Presence: memory.NewPresence(), Version: testVersion, Metrics: m}, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", api.NewHandler(opts, h))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	})
	return &env{srv: srv, hub: h, m: m}
}

// response is one API answer as it came over the wire.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends an API request; auth is the whole Authorization header, "" for none.
func (e *env) do(t *testing.T, method, path, auth, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// post calls an API method with the right key.
func (e *env) post(t *testing.T, method, body string) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/api/"+method, "apikey "+testKey, body)
}

type apiError struct {
	Code    uint32 `json:"code"`
	Message string `json:"message"`
}

// wantError checks that r is the JSON error {"error":{"code","message"}}
// with the status and code given, and returns its message.
func wantError(t *testing.T, r response, status int, code herald.ErrorCode) string {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error *apiError `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == nil {
		t.Fatalf("body %s is not {\"error\":{\"code\",\"message\"}}: %v", r.body, err)
	}
	if body.Error.Code != uint32(code) {
		t.Errorf("code = %d, want %d (%s); message %q", body.Error.Code, code, code.Name(), body.Error.Message)
	}
	if body.Error.Message == "" {
		t.Error("error message is empty")
	}
	return body.Error.Message
}

// decodeOK checks a 200 JSON answer and decodes it strictly into v.
func decodeOK(t *testing.T, r response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", r.status, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// testTransport stands in for a client connection: it hands every message
// the hub writes to msgs.
type testTransport struct {
	msgs chan []byte
}

func (*testTransport) Name() string { return "test" }

func (tr *testTransport) Write(msgs [][]byte) error {
	for _, m := range msgs {
		tr.msgs <- bytes.Clone(m)
	}
	return nil
}

func (*testTransport) Close(herald.Disconnect) error { return nil }

// subscriber is a hub session subscribed to channels, for checking what
// the API's publications deliver.
type subscriber struct {
	tr *testTransport
	// id is the client id from the connect reply.
	id string
}

func (e *env) subscribe(t *testing.T, channels ...string) *subscriber {
	t.Helper()
	tr := &testTransport{msgs: make(chan []byte, 1024)}
	s, err := e.hub.Accept(tr, herald.ConnInfo{RemoteAddr: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.HandleClose(nil) })
	sub := &subscriber{tr: tr}
	s.HandleFrame([]byte(`{"id":1,"connect":{}}`))
	var reply struct {
		Connect struct {
			Client string `json:"client"`
		} `json:"connect"`
	}
	if msg := sub.next(t); json.Unmarshal(msg, &reply) != nil || reply.Connect.Client == "" {
		t.Fatalf("connect reply %s has no client id", msg)
	}
	sub.id = reply.Connect.Client
	for i, ch := range channels {
		s.HandleFrame(fmt.Appendf(nil, `{"id":%d,"subscribe":{"channel":%q}}`, i+2, ch))
		// A channel with history adds its position to the reply.
		if got, want := string(sub.next(t)), fmt.Sprintf(`{"id":%d,"subscribe":{`, i+2); !strings.HasPrefix(got, want) {
			t.Fatalf("subscribe reply = %s, want %s...}}", got, want)
		}
	}
	return sub
}

// next returns the next message written to the session. The timeout only
// keeps a broken test from hanging; it asserts nothing about speed.
func (sub *subscriber) next(t *testing.T) []byte {
	t.Helper()
	select {
	case m := <-sub.tr.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message for the subscriber")
		return nil
	}
}

// none checks that nothing more was delivered so far.
func (sub *subscriber) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-sub.tr.msgs:
		t.Errorf("unexpected message %s", m)
	default:
	}
}
