package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

const testSecret = "herald-test-secret-0123456789abcdefghij"

// Keys are made once per run: RSA generation is slow under -race.
var (
	rsaKey  = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	rsaKey2 = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	ecKeys  = sync.OnceValue(func() map[string]*ecdsa.PrivateKey {
		return map[string]*ecdsa.PrivateKey{
			"ES256": must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)),
			"ES384": must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)),
			"ES512": must(ecdsa.GenerateKey(elliptic.P521(), rand.Reader)),
		}
	})
	edKey = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// pemOf encodes a public key as PKIX PEM.
func pemOf(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sign makes a token with jwt's signer, so that a test never relies on
// this package to produce what it checks.
func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// valid returns claims a verifier with default settings accepts.
func valid() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub":      "alice",
		"iat":      now.Unix(),
		"exp":      now.Add(time.Hour).Unix(),
		"info":     map[string]any{"name": "Alice"},
		"channels": []string{"news", "chat:lobby"},
	}
}

// with returns valid claims changed by kv pairs; a nil value deletes.
func with(kv ...any) jwt.MapClaims {
	c := valid()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
			continue
		}
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// raw assembles a token from literal JSON and a signature, for inputs no
// signer would make.
func raw(header, payload, sig string) string { return b64(header) + "." + b64(payload) + "." + sig }

// hsRaw signs literal JSON claims with testSecret.
func hsRaw(t testing.TB, payload string) string {
	t.Helper()
	head := b64(`{"alg":"HS256","typ":"JWT"}`)
	body := b64(payload)
	sig, err := jwt.SigningMethodHS256.Sign(head+"."+body, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func newVerifier(t testing.TB, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// checkRefusal asserts err is a *herald.Error with code, whose message
// contains want and leaks none of the secrets.
func checkRefusal(t testing.TB, err error, code herald.ErrorCode, want string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %d %q", code, want)
	}
	var herr *herald.Error
	if !errors.As(err, &herr) {
		t.Fatalf("error %T %v is not a *herald.Error", err, err)
	}
	if herr.Code != code {
		t.Errorf("code = %d (%s), want %d; error: %v", herr.Code, herr.Message, code, err)
	}
	if !strings.Contains(herr.Message, want) {
		t.Errorf("message = %q, want it to contain %q", herr.Message, want)
	}
	if herald.AsError(err) != herr {
		t.Errorf("herald.AsError does not find the *herald.Error")
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(herr.Message, s) || strings.Contains(err.Error(), s) {
			t.Errorf("error %q leaks %.20q...", err.Error(), s)
		}
	}
}

func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonValid(b []byte) bool { return json.Valid(b) }
