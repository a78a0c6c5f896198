package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/hub"
)

// Tokens here live 2 seconds (exp is in whole seconds, so 1 to 2), and the
// server closes what outlives them by 300ms: a test that waits past
// tokenLife*2.5 without a disconnect has seen the first token expire.
const (
	tokenSecret = "a-test-secret-of-at-least-32-bytes!!"
	tokenLife   = 2 * time.Second
)

// newAuthServer starts a server that verifies tokens signed with
// tokenSecret and has a "private" namespace that wants subscription tokens.
func newAuthServer(t *testing.T, cfg auth.Config) *server {
	t.Helper()
	cfg.HMACSecret = tokenSecret
	v, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ns := namespaces()
	ns.Named["private"] = herald.NamespaceOptions{SubscribeAccess: herald.AccessToken, AllowPublish: true}
	return newServer(t, hub.Config{
		Namespaces:  ns,
		Auth:        authn.New(authn.Options{Verifier: v, Logger: quiet}),
		ExpireGrace: 300 * time.Millisecond,
	})
}

func mintToken(t *testing.T, secret string, c auth.MintClaims) string {
	t.Helper()
	tok, err := auth.Mint(secret, c)
	if err != nil {
		t.Error(err) // not Fatal: GetToken runs on the client's goroutines
	}
	return tok
}

// tokenSource is a GetToken that counts its calls, signals each on calls,
// and fails while failing is set.
type tokenSource struct {
	t       *testing.T
	n       atomic.Int64
	calls   chan int64
	failing atomic.Bool
	mint    func(n int64) string
}

func newTokenSource(t *testing.T, mint func(n int64) string) *tokenSource {
	return &tokenSource{t: t, calls: make(chan int64, 1024), mint: mint}
}

func (ts *tokenSource) get(ctx context.Context) (string, error) {
	n := ts.n.Add(1)
	ts.calls <- n
	if ts.failing.Load() {
		return "", errors.New("the backend is down")
	}
	return ts.mint(n), nil
}

// waitPast waits for GetToken calls until d has passed since start.
func (ts *tokenSource) waitPast(start time.Time, d time.Duration) {
	ts.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for time.Since(start) < d {
		select {
		case <-ts.calls:
		case <-deadline.C:
			ts.t.Fatalf("GetToken not called for %s (%d calls in all)", waitTimeout, ts.n.Load())
		}
	}
}

// noStateChange fails on any client or subscription state change recorded.
func noStateChange(t *testing.T, r *recorder) {
	t.Helper()
	for {
		select {
		case e := <-r.ch:
			switch e.(type) {
			case client.ConnectingEvent, client.ConnectedEvent, client.DisconnectedEvent,
				client.SubscribingEvent, client.SubscribedEvent, client.UnsubscribedEvent, error:
				t.Fatalf("unexpected event %#v", e)
			}
		default:
			return
		}
	}
}

// TestTokenRefresh: a client with GetToken refreshes its expiring
// credentials on the same connection, again and again, and outlives
// several tokens without a reconnect.
func TestTokenRefresh(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, auth.Config{})
	src := newTokenSource(t, func(int64) string {
		return mintToken(t, tokenSecret, auth.MintClaims{User: "42", TTL: tokenLife})
	})
	r := newRecorder()
	c := connect(t, s, r, &client.Options{GetToken: src.get})
	start := time.Now()
	connected, _ := waitFor[client.ConnectedEvent](t, r, nil)
	if connected.User != "42" {
		t.Fatalf("connected as %q, want 42", connected.User)
	}

	src.waitPast(start, tokenLife*5/2)
	if n := src.n.Load(); n < 3 {
		t.Fatalf("GetToken called %d times, want the connect's and refreshes", n)
	}
	// A round trip on the same connection proves it is alive, and that
	// nothing happened to it before.
	if _, err := c.RPC(ctxTimeout(t), "echo", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	noStateChange(t, r)
	if d := s.dials.Load(); d != 1 {
		t.Fatalf("%d WebSocket handshakes, want 1", d)
	}
}

// TestTokenRefreshFails: when GetToken fails, the refresh is reported and
// the server closes the expired connection with 4005; the client
// reconnects once GetToken works again.
func TestTokenRefreshFails(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, auth.Config{})
	src := newTokenSource(t, func(int64) string {
		return mintToken(t, tokenSecret, auth.MintClaims{User: "42", TTL: tokenLife})
	})
	r := newRecorder()
	connect(t, s, r, &client.Options{GetToken: src.get})
	first, _ := waitFor[client.ConnectedEvent](t, r, nil)
	src.failing.Store(true)

	tokenErr, _ := waitFor[*client.TokenError](t, r, nil)
	if tokenErr.Channel != "" {
		t.Fatalf("token error %v, want the connection's", tokenErr)
	}
	lost, skipped := waitFor[client.ConnectingEvent](t, r, nil)
	if lost.Code != uint32(herald.DisconnectExpired.Code) {
		t.Fatalf("connecting after %+v (after %v), want 4005", lost, skipped)
	}
	waitFor[*client.TokenError](t, r, nil) // the reconnect's GetToken
	src.failing.Store(false)
	again, skipped := waitFor[client.ConnectedEvent](t, r, nil)
	if again.ClientID == first.ClientID || again.User != "42" {
		t.Fatalf("reconnected as %+v, first %+v", again, first)
	}
	for _, e := range skipped {
		if _, ok := e.(client.DisconnectedEvent); ok {
			t.Fatalf("disconnected on the way: %v", skipped)
		}
	}
}

// TestInvalidToken: a token the server cannot verify closes the
// connection with 4502, which stops the client: no reconnect loop.
func TestInvalidToken(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, auth.Config{})
	src := newTokenSource(t, func(int64) string {
		return mintToken(t, "another-secret-of-at-least-32-bytes!!", auth.MintClaims{User: "42", TTL: time.Hour})
	})
	r := newRecorder()
	c := client.New(s.URL(), r.options(&client.Options{GetToken: src.get, MinReconnectDelay: time.Millisecond}))
	defer c.Close()
	err := c.Connect(ctxTimeout(t))
	var de *client.DisconnectError
	if !errors.As(err, &de) || de.Code != uint32(herald.DisconnectInvalidToken.Code) {
		t.Fatalf("connect: %v, want a DisconnectError with 4502", err)
	}
	e, skipped := waitFor[client.DisconnectedEvent](t, r, nil)
	if e.Code != de.Code {
		t.Fatalf("disconnected with %+v", e)
	}
	// OnError said why the attempt failed, with the code, before the end.
	var ce *client.ConnectError
	if len(skipped) == 0 || !errors.As(skipped[len(skipped)-1].(error), &ce) || ce.Code != de.Code || ce.Reason == "" {
		t.Fatalf("events before the end: %v, want a ConnectError with 4502", skipped)
	}
	if c.State() != client.Disconnected || s.dials.Load() != 1 || src.n.Load() != 1 {
		t.Fatalf("state %v after %d dials and %d tokens, want disconnected after 1", c.State(), s.dials.Load(), src.n.Load())
	}
}

// TestExpiredTokenOnConnect: 118 token_expired leaves the connection open;
// the client connects again on it with a new token from GetToken. Without
// GetToken there is no other token, and the client stops.
func TestExpiredTokenOnConnect(t *testing.T) {
	t.Parallel()
	// No leeway: a token whose exp is this second has expired.
	s := newAuthServer(t, auth.Config{Leeway: -1})
	expired := func() string {
		return mintToken(t, tokenSecret, auth.MintClaims{User: "42", TTL: time.Nanosecond})
	}
	src := newTokenSource(t, func(n int64) string {
		if n == 1 {
			return expired()
		}
		return mintToken(t, tokenSecret, auth.MintClaims{User: "42", TTL: time.Hour})
	})
	r := newRecorder()
	connect(t, s, r, &client.Options{GetToken: src.get})
	_, skipped := waitFor[client.ConnectedEvent](t, r, nil)
	var e *client.Error
	if len(skipped) != 2 || !errors.As(skipped[1].(error), &e) || e.Code != uint32(herald.ErrTokenExpired) {
		t.Fatalf("before connected: %v, want connecting and the 118 error", skipped)
	}
	if d := s.dials.Load(); d != 1 || src.n.Load() != 2 {
		t.Fatalf("%d dials and %d tokens, want 1 dial and 2 tokens", d, src.n.Load())
	}

	static := client.New(s.URL(), &client.Options{Token: expired()})
	defer static.Close()
	err := static.Connect(ctxTimeout(t))
	var de *client.DisconnectError
	if !errors.As(err, &de) || de.Code != uint32(herald.ErrTokenExpired) {
		t.Fatalf("connect with an expired Token: %v, want a DisconnectError with 118", err)
	}
	if d := s.dials.Load(); d != 2 {
		t.Fatalf("%d dials in all, want 2", d)
	}
}

// TestSubscriptionTokenRefresh: a subscription with GetToken refreshes its
// token with sub_refresh and stays subscribed past its lifetime; one with a
// plain Token is ended by the server when the token expires.
func TestSubscriptionTokenRefresh(t *testing.T) {
	t.Parallel()
	s := newAuthServer(t, auth.Config{})
	r := newRecorder()
	c := connect(t, s, r, &client.Options{Token: mintToken(t, tokenSecret, auth.MintClaims{User: "42", TTL: time.Hour})})
	waitFor[client.ConnectedEvent](t, r, nil)

	src := newTokenSource(t, nil)
	get := func(ctx context.Context, channel string) (string, error) {
		if channel != "private:report" {
			t.Errorf("GetToken for %q", channel)
		}
		return src.get(ctx)
	}
	src.mint = func(int64) string {
		return mintToken(t, tokenSecret, auth.MintClaims{User: "42", Channel: "private:report", TTL: tokenLife})
	}
	kept := newRecorder()
	subscribe(t, c, "private:report", kept, &client.SubscriptionOptions{GetToken: get})
	start := time.Now()
	waitFor[client.SubscribedEvent](t, kept, nil)

	lapsing := newRecorder()
	subscribe(t, c, "private:lapsing", lapsing, &client.SubscriptionOptions{
		Token: mintToken(t, tokenSecret, auth.MintClaims{User: "42", Channel: "private:lapsing", TTL: tokenLife}),
	})
	waitFor[client.SubscribedEvent](t, lapsing, nil)
	if e, _ := waitFor[client.UnsubscribedEvent](t, lapsing, nil); e.Code != client.CodeServerUnsubscribed {
		t.Fatalf("lapsing subscription ended with %+v", e)
	}

	src.waitPast(start, tokenLife*5/2)
	s.publish(t, "private:report", `"still here"`)
	if p := publications(t, kept, 1)[0]; string(p.Data) != `"still here"` {
		t.Fatalf("publication %+v", p)
	}
	noStateChange(t, kept)
	noStateChange(t, r)
}

// TestHookRefresh: credentials that the application's connect hook made
// expire are refreshed without a token (the server asks the refresh hook)
// when the client has neither Token nor GetToken.
func TestHookRefresh(t *testing.T) {
	t.Parallel()
	refreshed := make(chan struct{}, 1024)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/refresh" {
			refreshed <- struct{}{}
		}
		fmt.Fprintf(w, `{"result":{"user":"42","expire_at":%d}}`, time.Now().Add(tokenLife).Unix())
	}))
	t.Cleanup(backend.Close) // after the server and the client stop
	hc, err := hooks.New(hooks.Config{ConnectURL: backend.URL + "/connect", RefreshURL: backend.URL + "/refresh", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a := authn.New(authn.Options{Hooks: hc, Logger: quiet})
	t.Cleanup(a.Close)
	s := newServer(t, hub.Config{Auth: a, ExpireGrace: 300 * time.Millisecond})
	r := newRecorder()
	c := connect(t, s, r, nil)
	start := time.Now()
	if e, _ := waitFor[client.ConnectedEvent](t, r, nil); e.User != "42" {
		t.Fatalf("connected as %+v", e)
	}
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	n := 0
	for ; time.Since(start) < tokenLife*5/2; n++ {
		select {
		case <-refreshed:
		case <-deadline.C:
			t.Fatalf("%d refresh hook calls in %s", n, waitTimeout)
		}
	}
	if _, err := c.RPC(ctxTimeout(t), "echo", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	noStateChange(t, r)
}
