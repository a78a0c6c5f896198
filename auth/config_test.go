package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/auth"
)

func TestNewRefusesBadConfig(t *testing.T) {
	rsaPEM := pemOf(t, &rsaKey().PublicKey)
	privDER, err := x509.MarshalPKCS8PrivateKey(rsaKey())
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	ecPriv := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: must(x509.MarshalECPrivateKey(ecKeys()["ES256"]))}))
	p224 := must(ecdsa.GenerateKey(elliptic.P224(), rand.Reader))
	short := must(rsa.GenerateKey(rand.Reader, 1024))
	shortSecret := "0123456789abcdef0123456789abcde" // 31 bytes

	tests := []struct {
		name   string
		cfg    auth.Config
		want   string
		secret string // must not appear in the error
	}{
		{"no key at all", auth.Config{}, "token.hmac_secret, token.public_key or token.jwks_url", ""},
		{"short HMAC secret", auth.Config{HMACSecret: shortSecret}, "token.hmac_secret: is 31 bytes, needs at least 32", shortSecret},
		{"PEM garbage", auth.Config{PublicKeyPEM: "not a key"}, "token.public_key: not a PEM block", ""},
		{"PEM with a broken body", auth.Config{PublicKeyPEM: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "token.public_key: cannot parse", ""},
		{"private key", auth.Config{PublicKeyPEM: privPEM}, "token.public_key: is a private key (PRIVATE KEY); give the public key only", privPEM[40:80]},
		{"EC private key", auth.Config{PublicKeyPEM: ecPriv}, "token.public_key: is a private key (EC PRIVATE KEY)", ecPriv[40:80]},
		{"two keys", auth.Config{PublicKeyPEM: rsaPEM + rsaPEM}, "token.public_key: more than one PEM block", ""},
		{"RSA 1024", auth.Config{PublicKeyPEM: pemOf(t, &short.PublicKey)}, "token.public_key: RSA key of 1024 bits is too short", ""},
		{"P-224", auth.Config{PublicKeyPEM: pemOf(t, &p224.PublicKey)}, "token.public_key: ECDSA curve P-224 is not supported", ""},
		{"HS256 with only a public key", auth.Config{PublicKeyPEM: rsaPEM, Algorithms: []string{"HS256"}}, "token.algorithms: HS256 has no configured key", ""},
		{"ES256 with an RSA key", auth.Config{PublicKeyPEM: rsaPEM, Algorithms: []string{"ES256"}}, "token.algorithms: ES256 has no configured key", ""},
		{"alg none", auth.Config{HMACSecret: testSecret, Algorithms: []string{"none"}}, `token.algorithms: "none" is not a supported`, testSecret},
		{"unknown alg", auth.Config{HMACSecret: testSecret, Algorithms: []string{"HS1"}}, `token.algorithms: "HS1" is not a supported`, testSecret},
		{"huge leeway", auth.Config{HMACSecret: testSecret, Leeway: time.Hour}, "token.leeway", testSecret},
		{"JWKS URL not http", auth.Config{JWKSURL: "file:///etc/passwd"}, "token.jwks_url: must be an http:// or https:// URL", ""},
		{"JWKS URL relative", auth.Config{JWKSURL: "/jwks.json"}, "token.jwks_url: must be an http:// or https:// URL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := auth.New(context.Background(), tt.cfg)
			if err == nil {
				v.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error leaks the secret: %q", err)
			}
			// Check refuses offline exactly what New refuses.
			if cerr := tt.cfg.Check(); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("Check() = %v, New's error %q", cerr, err)
			}
		})
	}
}

func TestNewJWKSUnreachable(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	// A good key padded past 1 MiB: refused for its size alone.
	padded, _ := json.Marshal(map[string]any{"keys": []any{jwkPadded(t, strings.Repeat("x", 2<<20))}})
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(padded)
	}))
	defer huge.Close()
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer empty.Close()

	for name, u := range map[string]string{"down": down.URL, "404": notFound.URL, "over 1 MiB": huge.URL, "no keys": empty.URL} {
		t.Run(name, func(t *testing.T) {
			v, err := auth.New(context.Background(), auth.Config{JWKSURL: u})
			if err == nil {
				v.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "token.jwks_url") || (name == "over 1 MiB" && !strings.Contains(err.Error(), "too large")) {
				t.Errorf("error = %q, want it to name token.jwks_url", err)
			}
		})
	}
}

// A nil Verifier and a zero Config never panic.
func TestNilVerifier(t *testing.T) {
	var v *auth.Verifier
	v.Close()
	_, err := v.VerifyConnect(context.Background(), "x")
	checkRefusal(t, err, 101, "no token verifier")
	_, err = v.VerifySubscribe(context.Background(), "x", "c")
	checkRefusal(t, err, 101, "no token verifier")
}

func TestLeeway(t *testing.T) {
	past := func(d time.Duration) string {
		return hsRaw(t, `{"sub":"alice","exp":`+jsonInt(time.Now().Add(-d).Unix())+`}`)
	}
	strict := newVerifier(t, auth.Config{HMACSecret: testSecret, Leeway: -1})
	if _, err := strict.VerifyConnect(context.Background(), past(2*time.Second)); err == nil {
		t.Error("negative leeway: a token 2s past exp was accepted")
	}
	loose := newVerifier(t, auth.Config{HMACSecret: testSecret, Leeway: time.Minute})
	if _, err := loose.VerifyConnect(context.Background(), past(30*time.Second)); err != nil {
		t.Errorf("1m leeway: %v", err)
	}
}

// jwkPadded is a good Ed25519 JWK with an extra member of pad.
func jwkPadded(t *testing.T, pad string) map[string]any {
	b, _ := json.Marshal(jwk(t, edKey().Public(), "A", ""))
	var m map[string]any
	json.Unmarshal(b, &m)
	m["pad"] = pad
	return m
}
