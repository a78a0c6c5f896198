package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

// FuzzVerifyConnect: no input panics, every refusal is a *herald.Error of
// one of the two codes, and no message repeats the secret or the input.
func FuzzVerifyConnect(f *testing.F) {
	good, _ := auth.Mint(testSecret, auth.MintClaims{User: "alice", TTL: time.Hour, Channels: []string{"a"}, Info: []byte(`{"x":1}`)})
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add(raw(`{"alg":"none"}`, `{"sub":"alice"}`, ""))
	f.Add(raw(`{"alg":"HS256","crit":["x"]}`, `{"exp":"soon"}`, "AAAA"))
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": 1}, nil))

	v, err := auth.New(context.Background(), auth.Config{HMACSecret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(v.Close)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.VerifyConnect(context.Background(), token)
		if err == nil {
			if c.Info != nil && !jsonValid(c.Info) {
				t.Fatalf("accepted with invalid info %q", c.Info)
			}
			return
		}
		e := herald.AsError(err)
		if e.Code != herald.ErrUnauthorized && e.Code != herald.ErrTokenExpired {
			t.Fatalf("code %d for %v", e.Code, err)
		}
		if strings.Contains(err.Error(), testSecret) || (len(token) > 8 && strings.Contains(e.Message, token)) {
			t.Fatalf("error %q leaks", err)
		}
	})
}
