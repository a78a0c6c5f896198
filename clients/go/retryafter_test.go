package client_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	client "github.com/heraldrt/herald/clients/go"
)

// TestRetryAfterHonoured: an upgrade refused 503 with Retry-After (the
// server's admission control) is not retried before that many seconds,
// though the client's own backoff would have come back at once.
func TestRetryAfterHonoured(t *testing.T) {
	var mu sync.Mutex
	var attempts []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts = append(attempts, time.Now())
		n := len(attempts)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":114,"message":"too many new connections"}}`))
			return
		}
		ws, err := cws.Accept(w, r, &cws.AcceptOptions{Subprotocols: []string{"herald.json"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		f := &fakeConn{t: t, ws: ws, ctx: r.Context()}
		f.connect()
		f.idle()
	}))
	defer srv.Close()
	r := newRecorder()
	c := client.New(srv.URL, r.options(&client.Options{MinReconnectDelay: time.Millisecond, MaxReconnectDelay: 2 * time.Millisecond}))
	defer c.Close()
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 {
		t.Fatalf("%d attempts, want 2", len(attempts))
	}
	if gap := attempts[1].Sub(attempts[0]); gap < time.Second {
		t.Fatalf("came back after %s, before the Retry-After of 1s", gap)
	}
}
