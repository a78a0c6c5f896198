package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/auth"
)

func TestMintRoundTrip(t *testing.T) {
	v := newVerifier(t, auth.Config{HMACSecret: testSecret, Audience: "herald", Issuer: "app"})
	ctx := context.Background()

	tok, err := auth.Mint(testSecret, auth.MintClaims{
		User: "alice", TTL: time.Hour, Info: rawJSON(`{"name":"Alice"}`),
		Channels: []string{"news"}, Audience: "herald", Issuer: "app",
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.VerifyConnect(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "alice" || string(c.Info) != `{"name":"Alice"}` || len(c.Channels) != 1 ||
		c.ExpiresAt.Before(time.Now().Add(59*time.Minute)) {
		t.Errorf("connect claims = %+v", c)
	}

	sub, err := auth.Mint(testSecret, auth.MintClaims{User: "alice", TTL: time.Minute, Channel: "chat:1", Audience: "herald", Issuer: "app"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := v.VerifySubscribe(ctx, sub, "chat:1")
	if err != nil {
		t.Fatal(err)
	}
	if s.User != "alice" || s.Channel != "chat:1" {
		t.Errorf("subscribe claims = %+v", s)
	}
	if _, err := v.VerifyConnect(ctx, sub); err == nil {
		t.Error("a minted subscription token was accepted for connect")
	}

	anon, err := auth.Mint(testSecret, auth.MintClaims{TTL: time.Minute, Audience: "herald", Issuer: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.VerifyConnect(ctx, anon); err != nil || c.User != "" {
		t.Errorf("anonymous: %+v, %v", c, err)
	}
}

func TestMintRefuses(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		c      auth.MintClaims
		want   string
	}{
		{"short secret", "short", auth.MintClaims{TTL: time.Minute}, "needs at least 32"},
		{"no TTL", testSecret, auth.MintClaims{User: "a"}, "TTL must be positive"},
		{"negative TTL", testSecret, auth.MintClaims{User: "a", TTL: -time.Second}, "TTL must be positive"},
		{"channel and channels", testSecret, auth.MintClaims{TTL: time.Minute, Channel: "a", Channels: []string{"b"}}, "cannot carry Channels"},
		{"bad info", testSecret, auth.MintClaims{TTL: time.Minute, Info: rawJSON(`{`)}, "Info is not valid JSON"},
		{"too large", testSecret, auth.MintClaims{TTL: time.Minute, Info: rawJSON(`"` + strings.Repeat("x", auth.MaxTokenSize) + `"`)}, "verifiers refuse tokens over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.Mint(tt.secret, tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}
