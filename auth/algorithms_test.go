package auth_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

// TestEveryAlgorithm signs with each supported algorithm and a key made in
// the test, and checks the token is accepted by a verifier configured the
// way an operator would, and refused by one with a key of another type.
func TestEveryAlgorithm(t *testing.T) {
	rsaPEM := pemOf(t, &rsaKey().PublicKey)
	ec := ecKeys()
	edPEM := pemOf(t, edKey().Public())
	tests := []struct {
		method jwt.SigningMethod
		key    any
		cfg    auth.Config
	}{
		{jwt.SigningMethodHS256, []byte(testSecret), auth.Config{HMACSecret: testSecret}},
		{jwt.SigningMethodHS384, []byte(testSecret), auth.Config{HMACSecret: testSecret}},
		{jwt.SigningMethodHS512, []byte(testSecret), auth.Config{HMACSecret: testSecret}},
		{jwt.SigningMethodRS256, rsaKey(), auth.Config{PublicKeyPEM: rsaPEM}},
		{jwt.SigningMethodRS384, rsaKey(), auth.Config{PublicKeyPEM: rsaPEM}},
		{jwt.SigningMethodRS512, rsaKey(), auth.Config{PublicKeyPEM: rsaPEM}},
		{jwt.SigningMethodPS256, rsaKey(), auth.Config{PublicKeyPEM: rsaPEM, Algorithms: []string{"PS256"}}},
		{jwt.SigningMethodES256, ec["ES256"], auth.Config{PublicKeyPEM: pemOf(t, &ec["ES256"].PublicKey)}},
		{jwt.SigningMethodES384, ec["ES384"], auth.Config{PublicKeyPEM: pemOf(t, &ec["ES384"].PublicKey)}},
		{jwt.SigningMethodES512, ec["ES512"], auth.Config{PublicKeyPEM: pemOf(t, &ec["ES512"].PublicKey)}},
		{jwt.SigningMethodEdDSA, edKey(), auth.Config{PublicKeyPEM: edPEM}},
	}
	for _, tt := range tests {
		alg := tt.method.Alg()
		t.Run(alg, func(t *testing.T) {
			v := newVerifier(t, tt.cfg)
			got, err := v.VerifyConnect(context.Background(), sign(t, tt.method, tt.key, valid(), nil))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got.User != "alice" || string(got.Info) != `{"name":"Alice"}` || len(got.Channels) != 2 || got.ExpiresAt.IsZero() {
				t.Errorf("claims = %+v", got)
			}
		})
	}

	// Each curve's key verifies only its own algorithm.
	for alg, k := range ec {
		v := newVerifier(t, auth.Config{PublicKeyPEM: pemOf(t, &k.PublicKey)})
		if got := v.Algorithms(); len(got) != 1 || got[0] != alg {
			t.Errorf("%s key allows %v", alg, got)
		}
	}
}

// TestDefaultAlgorithms: the default allow-list is exactly the algorithms
// of the configured keys.
func TestDefaultAlgorithms(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.Config
		want []string
	}{
		{"hmac", auth.Config{HMACSecret: testSecret}, []string{"HS256", "HS384", "HS512"}},
		{"rsa", auth.Config{PublicKeyPEM: pemOf(t, &rsaKey().PublicKey)}, []string{"RS256", "RS384", "RS512"}},
		{"p384", auth.Config{PublicKeyPEM: pemOf(t, &ecKeys()["ES384"].PublicKey)}, []string{"ES384"}},
		{"ed25519", auth.Config{PublicKeyPEM: pemOf(t, edKey().Public())}, []string{"EdDSA"}},
		{"hmac and ed25519", auth.Config{HMACSecret: testSecret, PublicKeyPEM: pemOf(t, edKey().Public())}, []string{"EdDSA", "HS256", "HS384", "HS512"}},
		{"explicit", auth.Config{HMACSecret: testSecret, Algorithms: []string{"HS512"}}, []string{"HS512"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newVerifier(t, tt.cfg).Algorithms()
			if len(got) != len(tt.want) {
				t.Fatalf("Algorithms() = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("Algorithms() = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestAllowList: an explicit list narrows what the key type would allow.
func TestAllowList(t *testing.T) {
	v := newVerifier(t, auth.Config{PublicKeyPEM: pemOf(t, &rsaKey().PublicKey), Algorithms: []string{"RS256"}})
	if _, err := v.VerifyConnect(context.Background(), sign(t, jwt.SigningMethodRS256, rsaKey(), valid(), nil)); err != nil {
		t.Fatal(err)
	}
	_, err := v.VerifyConnect(context.Background(), sign(t, jwt.SigningMethodRS512, rsaKey(), valid(), nil))
	checkRefusal(t, err, herald.ErrUnauthorized, "token algorithm RS512 is not allowed")
	_, err = v.VerifyConnect(context.Background(), sign(t, jwt.SigningMethodPS256, rsaKey(), valid(), nil))
	checkRefusal(t, err, herald.ErrUnauthorized, "token algorithm PS256 is not allowed")
}
