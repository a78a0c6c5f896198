package websocket_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/websocket"
)

// authNamespaces: "room" keeps presence, "private" needs a subscription
// token.
func authNamespaces() herald.Namespaces {
	return herald.Namespaces{
		Default: herald.NamespaceOptions{},
		Named: map[string]herald.NamespaceOptions{
			"room":    {Presence: true, PresenceAccess: herald.AccessSubscriber},
			"private": {SubscribeAccess: herald.AccessToken},
		},
	}
}

// TestHostileConnectionTokens sends the tokens an attacker would try. Each
// is refused by closing the connection with 4502 (no reconnect), with a
// reason that says why and repeats neither the secret nor the token, or
// answered with the error that tells an honest client what to do.
func TestHostileConnectionTokens(t *testing.T) {
	ts, _ := startAuthServer(t, hub.Config{Namespaces: authNamespaces()},
		authn.Options{Verifier: newVerifier(t, auth.Config{Audience: "herald", Issuer: "app"})}, websocket.Options{})
	now := time.Now().Unix()
	good := map[string]any{"sub": "42", "aud": "herald", "iss": "app", "iat": now, "exp": now + 3600}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	valid := signHS256(tokenSecret, hs256, good)
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name   string
		token  string
		reason string // in the close reason
	}{
		{"alg none", b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64(good) + ".", "algorithm none is not allowed"},
		{"alg none with a signature", b64(map[string]any{"alg": "none"}) + "." + b64(good) + "." + strings.Split(valid, ".")[2], "algorithm none is not allowed"},
		{"other secret", signHS256("another-secret-of-at-least-32-bytes!!", hs256, good), "signature is invalid"},
		{"tampered payload", strings.Split(valid, ".")[0] + "." + b64(with("sub", "1")) + "." + strings.Split(valid, ".")[2], "signature is invalid"},
		{"not valid yet", signHS256(tokenSecret, hs256, with("nbf", now+3600)), "not valid yet"},
		{"issued in the future", signHS256(tokenSecret, hs256, with("iat", now+3600)), "issued in the future"},
		{"wrong audience", signHS256(tokenSecret, hs256, with("aud", "billing")), "audience does not match"},
		{"no audience", signHS256(tokenSecret, hs256, with("aud", nil)), "audience does not match"},
		{"wrong issuer", signHS256(tokenSecret, hs256, with("iss", "evil")), "issuer does not match"},
		{"truncated", valid[:len(valid)-10], "token"},
		{"header only", strings.Split(valid, ".")[0], "malformed"},
		{"garbage", "not a token at all", "malformed"},
		{"subscription token", mint(t, auth.MintClaims{User: "42", Channel: "private:x", Audience: "herald", Issuer: "app"}), "subscription token cannot be used to connect"},
		{"anonymous token", mint(t, auth.MintClaims{Audience: "herald", Issuer: "app"}), "anonymous"},
		{"20 KiB", signHS256(tokenSecret, hs256, with("pad", strings.Repeat("x", 20<<10))), "too large"},
		{"60 KiB", valid + strings.Repeat("A", 60<<10), "too large"},
		{"empty", "", "a token is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, ts, nil)
			body := `{}`
			if tt.token != "" {
				b, _ := json.Marshal(map[string]string{"token": tt.token})
				body = string(b)
			}
			c.send(`{"id":1,"connect":` + body + `}`)
			push := c.next()
			d, _ := push["disconnect"].(map[string]any)
			if d == nil || d["code"] != float64(4502) || d["reconnect"] == true {
				t.Fatalf("got %v, want a disconnect push 4502 without reconnect", push)
			}
			reason := c.closedWith(4502)
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("close reason %q, want it to say %q", reason, tt.reason)
			}
			if len(tt.token) >= 20 && leaks(reason, tokenSecret, tt.token) || leaks(reason, tokenSecret) {
				t.Errorf("close reason %q repeats a secret or the token", reason)
			}
		})
	}

	t.Run("1 MiB closes 1009", func(t *testing.T) {
		// Over websocket.max_message_size: the transport closes before
		// anything parses the token.
		c := dial(t, ts, nil)
		msg := `{"id":1,"connect":{"token":"` + valid + strings.Repeat("A", 1<<20) + `"}}`
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_ = c.conn.Write(ctx, cws.MessageText, []byte(msg)) // the server may hang up mid-write
		if got := c.closeStatus(); got != cws.StatusMessageTooBig {
			t.Fatalf("close status %d (%v), want 1009", got, c.err)
		}
	})

	t.Run("valid after all that", func(t *testing.T) {
		c := dial(t, ts, nil)
		r := c.connectWith(valid)
		if res, _ := r["connect"].(map[string]any); res == nil || res["user"] != "42" {
			t.Fatalf("connect: %v", r)
		}
	})
}

// TestExpiredTokenKeepsConnectionOpen: an expired token is an honest
// client's stale token, answered with 118 so that it fetches a new one and
// connects on the same connection.
func TestExpiredTokenKeepsConnectionOpen(t *testing.T) {
	ts, _ := startAuthServer(t, hub.Config{}, authn.Options{Verifier: newVerifier(t, auth.Config{Leeway: -1})}, websocket.Options{})
	now := time.Now().Unix()
	expired := signHS256(tokenSecret, map[string]any{"alg": "HS256"}, map[string]any{"sub": "42", "iat": now - 120, "exp": now - 60})
	c := dial(t, ts, nil)
	errorCodeIs(t, c.connectWith(expired), herald.ErrTokenExpired)
	r := c.connectWith(mint(t, auth.MintClaims{User: "42"}))
	if res, _ := r["connect"].(map[string]any); res == nil || res["user"] != "42" {
		t.Fatalf("connect with a fresh token on the same connection: %v", r)
	}
}

// TestTokenWithoutVerifier: a server that verifies no tokens refuses one
// with 101 rather than admitting its bearer as anonymous.
func TestTokenWithoutVerifier(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	errorCodeIs(t, c.connectWith(mint(t, auth.MintClaims{User: "42"})), herald.ErrUnauthorized)
	c.connect() // and without one, the connection is anonymous
}

// TestValidToken: the connect reply names the user and the expiry; the
// channels claim subscribes on the server side; info shows in presence.
func TestValidToken(t *testing.T) {
	ts, _ := startAuthServer(t, hub.Config{Namespaces: authNamespaces(), Presence: memory.NewPresence()},
		authn.Options{Verifier: newVerifier(t, auth.Config{})}, websocket.Options{})
	c := dial(t, ts, nil)
	r := c.connectWith(mint(t, auth.MintClaims{User: "42", TTL: time.Hour, Info: json.RawMessage(`{"name":"Ann"}`), Channels: []string{"room:a", "news"}}))
	res, _ := r["connect"].(map[string]any)
	if res == nil || res["user"] != "42" || res["expires"] != true {
		t.Fatalf("connect: %v", r)
	}
	if ttl, _ := res["ttl"].(float64); ttl < 3500 || ttl > 3600 {
		t.Fatalf("ttl %v, want about an hour", res["ttl"])
	}
	subs := map[string]bool{}
	for range 2 {
		push := c.next()
		if push["sub"] == nil {
			t.Fatalf("got %v, want a sub push", push)
		}
		subs[push["channel"].(string)] = true
	}
	if !subs["room:a"] || !subs["news"] {
		t.Fatalf("sub pushes for %v, want room:a and news", subs)
	}
	p := c.result("presence", `{"channel":"room:a"}`)["presence"].(map[string]any)
	if len(p) != 1 {
		t.Fatalf("presence %v", p)
	}
	for _, e := range p {
		e := e.(map[string]any)
		if e["user"] != "42" || e["info"].(map[string]any)["name"] != "Ann" {
			t.Fatalf("presence entry %v", e)
		}
	}
	ts.publish(t, "news", `"hi"`)
	pubPush(t, c.next(), "news")
}

// TestConnectionRefresh: a refresh before expiry keeps the connection;
// without one the connection is closed with 4005; another user's token
// does not refresh.
func TestConnectionRefresh(t *testing.T) {
	t.Parallel()
	ts, _ := startAuthServer(t, hub.Config{ExpireGrace: 500 * time.Millisecond},
		authn.Options{Verifier: newVerifier(t, auth.Config{})}, websocket.Options{})
	refreshed := dialPonging(t, ts)
	refreshed.connectWith(mint(t, auth.MintClaims{User: "42", TTL: 2 * time.Second}))
	// Minted after, so it expires no sooner: once it is cut off, the
	// first token has expired too.
	lapsed := dialPonging(t, ts)
	lapsed.connectWith(mint(t, auth.MintClaims{User: "43", TTL: 2 * time.Second}))

	errorCodeIs(t, refreshed.call("refresh", `{"token":"`+mint(t, auth.MintClaims{User: "43"})+`"}`), herald.ErrUnauthorized)
	errorCodeIs(t, refreshed.call("refresh", `{"token":"garbage"}`), herald.ErrUnauthorized)
	res := refreshed.result("refresh", `{"token":"`+mint(t, auth.MintClaims{User: "42", TTL: time.Hour})+`"}`)
	if res["expires"] != true || res["ttl"].(float64) < 3500 {
		t.Fatalf("refresh: %v", res)
	}

	push := lapsed.await("disconnect push", func(m map[string]any) bool { return m["disconnect"] != nil })
	if d := push["disconnect"].(map[string]any); d["code"] != float64(4005) || d["reconnect"] != true {
		t.Fatalf("got %v, want 4005 with reconnect", push)
	}
	lapsed.closedWith(4005)
	refreshed.alive()
}

// TestSubscriptionTokens: a namespace with subscribe_access token admits a
// subscriber only with a token for that user and that channel; the token's
// expiry is refreshed by sub_refresh, and one not refreshed ends the
// subscription with an unsub push.
func TestSubscriptionTokens(t *testing.T) {
	t.Parallel()
	ts, _ := startAuthServer(t, hub.Config{Namespaces: authNamespaces(), ExpireGrace: 500 * time.Millisecond},
		authn.Options{Verifier: newVerifier(t, auth.Config{})}, websocket.Options{})
	c := dialPonging(t, ts)
	c.connectAs("42")
	sub := func(channel, token string) map[string]any {
		return c.call("subscribe", `{"channel":"`+channel+`","token":"`+token+`"}`)
	}
	errorCodeIs(t, c.call("subscribe", `{"channel":"private:report"}`), herald.ErrPermissionDenied)
	errorCodeIs(t, sub("private:report", mint(t, auth.MintClaims{User: "42", Channel: "private:other"})), herald.ErrUnauthorized)
	errorCodeIs(t, sub("private:report", mint(t, auth.MintClaims{User: "43", Channel: "private:report"})), herald.ErrUnauthorized)
	errorCodeIs(t, sub("private:report", mint(t, auth.MintClaims{User: "42"})), herald.ErrUnauthorized) // a connection token
	errorCodeIs(t, sub("private:report", "garbage"), herald.ErrUnauthorized)

	res := c.subscribeResult(`{"channel":"private:report","token":"` + mint(t, auth.MintClaims{User: "42", Channel: "private:report", TTL: 2 * time.Second}) + `"}`)
	if res["expires"] != true || res["ttl"] == nil {
		t.Fatalf("subscribe: %v, want expires and ttl", res)
	}
	errorCodeIs(t, c.call("sub_refresh", `{"channel":"private:report","token":"`+mint(t, auth.MintClaims{User: "43", Channel: "private:report"})+`"}`), herald.ErrUnauthorized)
	errorCodeIs(t, c.call("sub_refresh", `{"channel":"private:other","token":"`+mint(t, auth.MintClaims{User: "42", Channel: "private:other"})+`"}`), herald.ErrNotSubscribed)
	ref := c.result("sub_refresh", `{"channel":"private:report","token":"`+mint(t, auth.MintClaims{User: "42", Channel: "private:report", TTL: time.Hour})+`"}`)
	if ref["expires"] != true || ref["ttl"].(float64) < 3500 {
		t.Fatalf("sub_refresh: %v", ref)
	}

	// Subscribed after the refresh, so it expires no sooner than the
	// refreshed subscription's first token did.
	c.subscribeResult(`{"channel":"private:lapsing","token":"` + mint(t, auth.MintClaims{User: "42", Channel: "private:lapsing", TTL: 2 * time.Second}) + `"}`)
	push := c.await("unsub push", func(m map[string]any) bool { return m["unsub"] != nil })
	if push["channel"] != "private:lapsing" {
		t.Fatalf("unsub push %v, want private:lapsing's", push)
	}
	ts.publish(t, "private:report", `"still here"`)
	ts.publish(t, "private:lapsing", `"gone"`)
	pubPush(t, c.next(), "private:report")
	c.alive() // and nothing from private:lapsing came before the pong
}
