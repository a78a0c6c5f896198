package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

// jwksServer serves a key set that a test can swap, and counts requests.
type jwksServer struct {
	*httptest.Server
	body atomic.Pointer[[]byte]
	hits atomic.Int64
}

func newJWKSServer(t *testing.T, keys ...any) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// set publishes keys: each a jwkset.JWKMarshal or a map for raw JSON.
func (s *jwksServer) set(t *testing.T, keys ...any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	s.body.Store(&b)
}

func jwk(t *testing.T, pub any, kid string, use jwkset.USE) jwkset.JWKMarshal {
	t.Helper()
	k, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: use}})
	if err != nil {
		t.Fatal(err)
	}
	return k.Marshal()
}

func kid(k string) map[string]any { return map[string]any{"kid": k} }

// TestJWKSRotation: the provider replaces key A by key B; Herald accepts B
// tokens without a restart and refuses A tokens from then on.
func TestJWKSRotation(t *testing.T) {
	a, b := rsaKey(), ecKeys()["ES256"]
	srv := newJWKSServer(t, jwk(t, &a.PublicKey, "A", ""))
	v := newVerifier(t, auth.Config{JWKSURL: srv.URL})
	ctx := context.Background()
	tokA := sign(t, jwt.SigningMethodRS256, a, valid(), kid("A"))
	tokB := sign(t, jwt.SigningMethodES256, b, valid(), kid("B"))

	if _, err := v.VerifyConnect(ctx, tokA); err != nil {
		t.Fatalf("kid A before rotation: %v", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches after New, want 1", n)
	}

	srv.set(t, jwk(t, &b.PublicKey, "B", jwkset.UseSig))
	if _, err := v.VerifyConnect(ctx, tokB); err != nil {
		t.Fatalf("kid B after rotation: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after the unknown kid B, want 2", n)
	}
	_, err := v.VerifyConnect(ctx, tokA)
	checkRefusal(t, err, herald.ErrUnauthorized, "unknown key id", tokA)
	if _, err := v.VerifyConnect(ctx, tokB); err != nil {
		t.Fatalf("kid B again: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want still 2: B is cached and A's refresh is rate-limited", n)
	}
}

// TestJWKSUnknownKIDFlood: made-up key ids cost the provider at most one
// fetch per JWKSMinRefreshInterval, however many arrive, and none waits.
func TestJWKSUnknownKIDFlood(t *testing.T) {
	k := ecKeys()["ES256"]
	srv := newJWKSServer(t, jwk(t, &k.PublicKey, "A", ""))
	v := newVerifier(t, auth.Config{JWKSURL: srv.URL})

	const workers, each = 16, 25
	var wg sync.WaitGroup
	var accepted, wrong atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tok := sign(t, jwt.SigningMethodES256, k, valid(), kid(fmt.Sprintf("evil-%d-%d", w, i)))
				_, err := v.VerifyConnect(context.Background(), tok)
				if err == nil {
					accepted.Add(1)
				} else if herald.AsError(err).Message != "unknown key id" {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if accepted.Load() != 0 || wrong.Load() != 0 {
		t.Errorf("%d accepted, %d refused for another reason; want all %d refused as unknown key id",
			accepted.Load(), wrong.Load(), workers*each)
	}
	if n := srv.hits.Load(); n > 2 {
		t.Errorf("%d unknown kids caused %d fetches; want at most 1 besides New's", workers*each, n-1)
	}
	// The known key still works during and after the flood.
	if _, err := v.VerifyConnect(context.Background(), sign(t, jwt.SigningMethodES256, k, valid(), kid("A"))); err != nil {
		t.Fatal(err)
	}
}

// TestJWKSPeriodicRefresh: the set is refetched on a timer, so a rotation
// is picked up even when unknown-kid refreshes are exhausted.
func TestJWKSPeriodicRefresh(t *testing.T) {
	a, b := edKey(), ecKeys()["ES384"]
	srv := newJWKSServer(t, jwk(t, a.Public(), "A", ""))
	v := newVerifier(t, auth.Config{JWKSURL: srv.URL, JWKSRefreshInterval: 20 * time.Millisecond})
	ctx := context.Background()

	// Spend the one unknown-kid refresh the limiter allows per minute.
	_, err := v.VerifyConnect(ctx, sign(t, jwt.SigningMethodEdDSA, a, valid(), kid("nope")))
	checkRefusal(t, err, herald.ErrUnauthorized, "unknown key id")

	srv.set(t, jwk(t, &b.PublicKey, "B", ""))
	seen := srv.hits.Load()
	deadline := time.Now().Add(30 * time.Second)
	for srv.hits.Load() < seen+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// A fetch that started before set may have read the old set: wait for
	// one more, so one surely began after.
	seen = srv.hits.Load()
	for srv.hits.Load() < seen+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := v.VerifyConnect(ctx, sign(t, jwt.SigningMethodES384, b, valid(), kid("B"))); err != nil {
		t.Fatalf("kid B after periodic refreshes: %v", err)
	}
	_, err = v.VerifyConnect(ctx, sign(t, jwt.SigningMethodEdDSA, a, valid(), kid("A")))
	checkRefusal(t, err, herald.ErrUnauthorized, "unknown key id")
}

// TestJWKSKeyTypes: a key set's keys are used only for their own
// algorithm family, and never symmetric ones or ones marked for
// encryption.
func TestJWKSKeyTypes(t *testing.T) {
	r, e := rsaKey(), ecKeys()["ES256"]
	oct := map[string]any{"kty": "oct", "kid": "h", "k": base64.RawURLEncoding.EncodeToString([]byte(testSecret))}
	srv := newJWKSServer(t,
		jwk(t, &r.PublicKey, "r", ""),
		jwk(t, &e.PublicKey, "e", jwkset.UseSig),
		jwk(t, &rsaKey2().PublicKey, "enc", jwkset.UseEnc),
		oct,
	)
	jwksOnly := newVerifier(t, auth.Config{JWKSURL: srv.URL})
	otherSecret := "another-secret-entirely-0123456789abcdef"
	withHMAC := newVerifier(t, auth.Config{JWKSURL: srv.URL, HMACSecret: otherSecret})
	hsOct := sign(t, jwt.SigningMethodHS256, []byte(testSecret), valid(), kid("h"))

	tests := []struct {
		name  string
		v     *auth.Verifier
		token string
		msg   string // empty: accepted
	}{
		{"RS256 by kid", jwksOnly, sign(t, jwt.SigningMethodRS256, r, valid(), kid("r")), ""},
		{"ES256 by kid", jwksOnly, sign(t, jwt.SigningMethodES256, e, valid(), kid("e")), ""},
		{"RS256 without kid", jwksOnly, sign(t, jwt.SigningMethodRS256, r, valid(), nil), ""},
		{"ES256 without kid", jwksOnly, sign(t, jwt.SigningMethodES256, e, valid(), nil), ""},
		{"HS256 with the set's oct key", jwksOnly, hsOct, "token algorithm HS256 is not allowed"},
		{"HS256 with the set's oct key, HMAC allowed", withHMAC, hsOct, "token signature is invalid"},
		{"RS256 naming the EC key", jwksOnly, sign(t, jwt.SigningMethodRS256, r, valid(), kid("e")), "no key of the token algorithm RS256 matches"},
		{"ES384 naming the P-256 key", jwksOnly, sign(t, jwt.SigningMethodES384, ecKeys()["ES384"], valid(), kid("e")), "no key of the token algorithm ES384 matches"},
		{"key marked use enc, by kid", jwksOnly, sign(t, jwt.SigningMethodRS256, rsaKey2(), valid(), kid("enc")), "token cannot be verified"},
		{"key marked use enc, without kid", jwksOnly, sign(t, jwt.SigningMethodRS256, rsaKey2(), valid(), nil), "token signature is invalid"},
		{"kid not a string", jwksOnly, sign(t, jwt.SigningMethodRS256, r, valid(), map[string]any{"kid": 5}), "token cannot be verified"},
		{"alg none with a kid", jwksOnly, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid(), kid("r")), "token algorithm none is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.VerifyConnect(context.Background(), tt.token)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, herald.ErrUnauthorized, tt.msg, testSecret, otherSecret, tt.token)
		})
	}
}

// TestJWKSCloseDuringFetch: Close returns while the provider hangs, and
// leaves no goroutine behind (TestMain checks).
func TestJWKSCloseDuringFetch(t *testing.T) {
	k := edKey()
	body, _ := json.Marshal(map[string]any{"keys": []any{jwk(t, k.Public(), "A", "")}})
	var hang atomic.Bool
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	defer close(release)

	v, err := auth.New(context.Background(), auth.Config{JWKSURL: srv.URL, JWKSRefreshInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	time.Sleep(30 * time.Millisecond) // let a refresh start and hang
	v.Close()
	v.Close()
	if _, err := v.VerifyConnect(context.Background(), sign(t, jwt.SigningMethodEdDSA, k, valid(), kid("A"))); err != nil {
		t.Errorf("known key after Close: %v", err)
	}
}
