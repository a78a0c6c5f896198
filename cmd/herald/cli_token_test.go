package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const testHMACSecret = "test-secret-test-secret-test-secret-0123"

// startAuthServer runs `herald serve` with token verification and no dev
// mode: anonymous connections are refused.
func startAuthServer(t *testing.T) string {
	t.Helper()
	addr := freeAddr(t)
	p := startHerald(t, nil, "serve", "--listen", addr, "--api-key", testAPIKey, "--token-hmac-secret", testHMACSecret)
	base := "http://" + addr
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-p.done:
			t.Fatalf("herald serve exited\nstderr:\n%s", p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald serve did not come up\nstderr:\n%s", p.stderr)
		}
	}
}

// A minted token gets in where an anonymous connection is refused.
func TestTokenAgainstServer(t *testing.T) {
	base := startAuthServer(t)

	_, stderr, code := runHerald(t, nil, "", "check", base)
	if code != 1 || !strings.Contains(stderr, "4502") {
		t.Fatalf("anonymous check: exit %d, stderr %q; want 1 and 4502", code, stderr)
	}

	tok, stderr, code := runHerald(t, nil, "", "token", "--user", "42", "--ttl", "10m", "--secret", testHMACSecret)
	if code != 0 || strings.Count(strings.TrimSpace(tok), ".") != 2 {
		t.Fatalf("token: exit %d, stdout %q, stderr %q", code, tok, stderr)
	}
	_, stderr, code = runHerald(t, nil, "", "check", "--token", strings.TrimSpace(tok), base)
	if code != 0 {
		t.Fatalf("check with a token: exit %d, stderr %q", code, stderr)
	}

	// The secret can come from the environment, as the server reads it.
	env := []string{"HERALD_TOKEN_HMAC_SECRET=" + testHMACSecret}
	tok, _, code = runHerald(t, env, "", "token", "--user", "7")
	if code != 0 {
		t.Fatalf("token from env secret: exit %d", code)
	}
	if _, stderr, code = runHerald(t, nil, "", "check", "--token", strings.TrimSpace(tok), base); code != 0 {
		t.Fatalf("check with an env-minted token: exit %d, stderr %q", code, stderr)
	}

	forged, _, _ := runHerald(t, nil, "", "token", "--user", "42", "--secret", "another-secret-another-secret-0123456")
	_, stderr, code = runHerald(t, nil, "", "check", "--token", strings.TrimSpace(forged), base)
	if code != 1 || !strings.Contains(stderr, "4502") || strings.Contains(stderr, testHMACSecret) {
		t.Fatalf("forged token: exit %d, stderr %q; want 1 and 4502, no secret", code, stderr)
	}
}

func TestTokenUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"token", "--user", "1"}, 2, "no HMAC secret"},
		{[]string{"token", "--secret", testHMACSecret, "--info", "{bad"}, 2, "--info must be JSON"},
		{[]string{"token", "--secret", testHMACSecret, "--ttl", "-1h"}, 2, "--ttl must be positive"},
		{[]string{"token", "--secret", testHMACSecret, "--channel", "a", "--channels", "b"}, 2, "pick one"},
		{[]string{"token", "extra"}, 2, "unexpected argument"},
		{[]string{"token", "--help"}, 0, ""},
	}
	for _, tt := range tests {
		stdout, stderr, code := runHerald(t, nil, "", tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.says) {
			t.Errorf("herald %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.says)
		}
		if tt.code == 0 && !strings.Contains(stdout, "Usage: herald token") {
			t.Errorf("herald token --help printed %q", stdout)
		}
	}
}
