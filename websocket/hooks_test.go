package websocket_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/websocket"
)

// hookNamespaces: "personal" for the connect hook's channels, "chat"
// where the publish hook decides, "private" where the subscribe hook
// approves subscriptions without a token.
func hookNamespaces() herald.Namespaces {
	return herald.Namespaces{Named: map[string]herald.NamespaceOptions{
		"personal": {},
		"chat":     {AllowPublish: true, PublishAccess: herald.AccessHook},
		"private":  {SubscribeAccess: herald.AccessToken, Presence: true, PresenceAccess: herald.AccessSubscriber},
	}}
}

// startHookServer is the stack with every hook of b on, and tokens too.
func startHookServer(t *testing.T, b *hookBackend, opts websocket.Options) *testServer {
	t.Helper()
	ts, _ := startAuthServer(t, hub.Config{Namespaces: hookNamespaces(), Presence: memory.NewPresence()}, authn.Options{
		Verifier: newVerifier(t, auth.Config{}),
		Hooks: hooksClient(t, b, hooks.Config{
			ConnectURL: "/connect", SubscribeURL: "/subscribe", PublishURL: "/publish", RPCURL: "/rpc",
		}),
	}, opts)
	return ts
}

// TestCrossSiteHijackingRefused: a page on another site opens a WebSocket
// to Herald in a victim's browser, which sends the victim's cookie along.
// Herald refuses the handshake (403) by its Origin, before the connect
// hook could accept the cookie: the backend never hears of it.
func TestCrossSiteHijackingRefused(t *testing.T) {
	b := newHookBackend(t)
	ts := startHookServer(t, b, websocket.Options{})
	h := http.Header{}
	h.Set("Origin", "https://evil.example")
	h.Set("Cookie", "sid=good")
	if status := dialRefused(t, ts, h); status != http.StatusForbidden {
		t.Fatalf("foreign origin with a session cookie: HTTP %d, want 403", status)
	}
	if n := b.count("/connect"); n != 0 {
		t.Fatalf("the connect hook was called %d times for a refused handshake", n)
	}

	// The application's own page connects with the same cookie.
	c := dialCookie(t, ts, "sid=good", ts.URL)
	if res := c.result("connect", `{}`); res["user"] != "42" {
		t.Fatalf("same-origin connect: %v", res)
	}
	if n := b.count("/connect"); n != 1 {
		t.Fatalf("connect hook called %d times, want 1", n)
	}
}

// TestAnyOriginReopensHijacking shows why websocket.origins: ["*"] is
// dangerous with cookie authentication: the foreign page gets the
// victim's session.
func TestAnyOriginReopensHijacking(t *testing.T) {
	b := newHookBackend(t)
	ts := startHookServer(t, b, websocket.Options{OriginPatterns: []string{"*"}})
	c := dialCookie(t, ts, "sid=good", "https://evil.example")
	if res := c.result("connect", `{}`); res["user"] != "42" {
		t.Fatalf("connect: %v", res)
	}
}

// TestConnectHook: the backend authenticates by its session cookie; its
// refusals reach the client as an error reply or a close.
func TestConnectHook(t *testing.T) {
	b := newHookBackend(t)
	ts := startHookServer(t, b, websocket.Options{})

	c := dialCookie(t, ts, "sid=good; theme=dark", "")
	res := c.result("connect", `{"name":"web","data":{"lang":"en"}}`)
	if res["user"] != "42" || res["expires"] == true {
		t.Fatalf("connect: %v", res)
	}
	if push := c.next(); push["sub"] == nil || push["channel"] != "personal:#42" {
		t.Fatalf("got %v, want the sub push of the hook's channel", push)
	}
	body := b.lastBody("/connect")
	hdr, _ := body["headers"].(map[string]any)
	if hdr["Cookie"] != "sid=good; theme=dark" || body["name"] != "web" || body["transport"] != "websocket" {
		t.Fatalf("the hook got %v", body)
	}
	if data, _ := body["data"].(map[string]any); data["lang"] != "en" {
		t.Fatalf("the hook got data %v", body["data"])
	}

	// A token wins over the cookie, and does not call the hook.
	calls := b.count("/connect")
	tc := dialCookie(t, ts, "sid=good", "")
	if res := tc.connectAs("7"); res["user"] != "7" {
		t.Fatalf("token connect: %v", res)
	}
	if b.count("/connect") != calls {
		t.Fatal("the connect hook was called for a connection with a token")
	}

	bad := dialCookie(t, ts, "sid=bad", "")
	r := bad.call("connect", `{}`)
	errorCodeIs(t, r, herald.ErrUnauthorized)
	if msg := r["error"].(map[string]any)["message"]; msg != "session expired, log in again" {
		t.Fatalf("refusal message %q, want the backend's", msg)
	}
	bad.alive()

	none := dial(t, ts, nil)
	none.send(`{"id":1,"connect":{}}`)
	if push := none.next(); push["disconnect"] == nil {
		t.Fatalf("no cookie: got %v, want a disconnect push", push)
	}
	if reason := none.closedWith(4502); reason != "no session" {
		t.Fatalf("close reason %q, want the backend's", reason)
	}
	if n := b.unsecret.Load(); n != 0 {
		t.Fatalf("%d hook calls came without the shared secret", n)
	}
}

// TestFailingBackend: a backend that answers too late or answers garbage
// is a temporary failure (114), answered within the hook timeout; the
// client may retry on the same connection.
func TestFailingBackend(t *testing.T) {
	b := newHookBackend(t)
	for _, path := range []string{"/slow", "/garbage"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			ts, _ := startAuthServer(t, hub.Config{}, authn.Options{
				Verifier: newVerifier(t, auth.Config{}),
				Hooks:    hooksClient(t, b, hooks.Config{ConnectURL: path, Timeout: 300 * time.Millisecond}),
			}, websocket.Options{})
			c := dialCookie(t, ts, "sid=good", "")
			start := time.Now()
			r := c.call("connect", `{}`)
			errorCodeIs(t, r, herald.ErrUnavailable)
			if r["error"].(map[string]any)["temporary"] != true {
				t.Fatalf("got %v, want a temporary error", r)
			}
			t.Logf("answered in %v", time.Since(start).Round(time.Millisecond))
			c.alive()
			c.connectAs("42") // a token still works while the backend is down
		})
	}
}

// TestPublishHookRewrites: where publish_access is hook, the backend's
// rewritten data is what subscribers get, and its refusal is the client's
// error.
func TestPublishHookRewrites(t *testing.T) {
	b := newHookBackend(t)
	ts := startHookServer(t, b, websocket.Options{})
	sub := dial(t, ts, nil)
	sub.connectAs("43")
	sub.subscribe("chat:lobby")
	pub := dialCookie(t, ts, "sid=good", "")
	pub.result("connect", `{}`)
	pub.next() // personal:#42
	pub.result("publish", `{"channel":"chat:lobby","data":{"text":"hi"}}`)
	data, _ := json.Marshal(pubPush(t, sub.next(), "chat:lobby")["data"])
	if string(data) != `{"by":"42","said":{"text":"hi"}}` {
		t.Fatalf("subscriber got %s, want the backend's rewrite", data)
	}
	if body := b.lastBody("/publish"); body["channel"] != "chat:lobby" || body["user"] != "42" {
		t.Fatalf("the hook got %v", body)
	}
}

// TestRPCForwarded: rpc calls reach the backend with the caller's user.
func TestRPCForwarded(t *testing.T) {
	b := newHookBackend(t)
	ts := startHookServer(t, b, websocket.Options{})
	c := dial(t, ts, nil)
	c.connectAs("42")
	res := c.result("rpc", `{"method":"whoami","data":{"x":1}}`)
	data, _ := json.Marshal(res["data"])
	if string(data) != `{"echo":{"x":1},"method":"whoami","user":"42"}` {
		t.Fatalf("rpc answered %s", data)
	}
}

// TestSubscribeHookApproves: in a namespace that needs a subscription
// token, the subscribe hook's approval stands in for one; its info shows
// in presence; its refusal is the client's error.
func TestSubscribeHookApproves(t *testing.T) {
	b := newHookBackend(t)
	ts := startHookServer(t, b, websocket.Options{})
	c := dial(t, ts, nil)
	c.connectAs("42")
	c.subscribe("private:board")
	p := c.result("presence", `{"channel":"private:board"}`)["presence"].(map[string]any)
	if len(p) != 1 {
		t.Fatalf("presence %v, want one entry", p)
	}
	for _, e := range p {
		if info, _ := e.(map[string]any)["info"].(map[string]any); info["role"] != "watcher" {
			t.Fatalf("presence %v, want the hook's info", p)
		}
	}
	other := dial(t, ts, nil)
	other.connectAs("43")
	r := other.call("subscribe", `{"channel":"private:board"}`)
	errorCodeIs(t, r, herald.ErrPermissionDenied)
	if r["error"].(map[string]any)["message"] != "only Ann may watch this" {
		t.Fatalf("refusal %v, want the backend's message", r)
	}
	// A subscription token is checked by the verifier, not the hook.
	calls := b.count("/subscribe")
	other.subscribeResult(`{"channel":"private:board","token":"` + mint(t, auth.MintClaims{User: "43", Channel: "private:board"}) + `"}`)
	if b.count("/subscribe") != calls {
		t.Fatal("the subscribe hook was called for a subscribe with a token")
	}
}
