package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The chat demo is part of dev mode only: / is the page there and nothing
// (404) otherwise, and dev mode mints tokens the server itself accepts.
func TestDemoOnlyInDevMode(t *testing.T) {
	get := func(url string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	dev, p := startServer(t)
	p.waitFor(t, p.stderr, "the demo's URL in the log", hasAll("chat demo", dev+"/"))
	resp, body := get(dev + "/")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(body, "/demo/herald.min.js") {
		t.Errorf("dev mode GET /: %s %q, want 200, text/html and the page", resp.Status, resp.Header.Get("Content-Type"))
	}
	resp, _ = get(dev + "/demo/herald.min.js")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("dev mode GET /demo/herald.min.js: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	tok, err := http.Post(dev+"/demo/token", "application/json", strings.NewReader(`{"user":"u1","name":"Ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	var minted struct{ Token string }
	err = json.NewDecoder(tok.Body).Decode(&minted)
	tok.Body.Close()
	if tok.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("dev mode POST /demo/token: %s %v", tok.Status, err)
	}
	// A forged token would close with 4502; the minted one connects.
	if _, stderr, code := runHerald(t, nil, "", "check", "--token", minted.Token, dev); code != 0 {
		t.Errorf("herald check with the demo's token: exit %d\n%s", code, stderr)
	}

	prod, _ := startServe(t, nil)
	for _, path := range []string{"/", "/demo/herald.min.js", "/demo/chat.js"} {
		if resp, _ := get(prod + path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("without --dev GET %s: %s, want 404", path, resp.Status)
		}
	}
	resp, err = http.Post(prod+"/demo/token", "application/json", strings.NewReader(`{"user":"u1","name":"Ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("without --dev POST /demo/token: %s, want 404", resp.Status)
	}
}

// Dev mode makes an HMAC secret for the demo only when the configuration
// has no token key of its own: a configured key is never replaced or
// joined by one the operator does not know.
func TestApplyDevTokenSecret(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token TokenConfig
		made  bool
	}{
		{"no key", TokenConfig{}, true},
		{"hmac secret", TokenConfig{HMACSecret: strings.Repeat("s", 32)}, false},
		{"public key", TokenConfig{PublicKey: "-----BEGIN PUBLIC KEY-----"}, false},
		{"public key file", TokenConfig{PublicKeyFile: "/etc/herald/key.pem"}, false},
		{"jwks", TokenConfig{JWKSURL: "https://example.com/jwks.json"}, false},
	} {
		cfg := Config{Token: tc.token}
		applyDev(&cfg, io.Discard)
		got := cfg.Token.HMACSecret
		switch {
		case tc.made && len(got) < 32:
			t.Errorf("%s: HMAC secret %q, want a random one of at least 32 bytes", tc.name, got)
		case !tc.made && got != tc.token.HMACSecret:
			t.Errorf("%s: HMAC secret changed to %q", tc.name, got)
		}
	}
	a, b := Config{}, Config{}
	applyDev(&a, io.Discard)
	applyDev(&b, io.Discard)
	if a.Token.HMACSecret == b.Token.HMACSecret {
		t.Error("two starts made the same HMAC secret")
	}
}
