package auth_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

// flip changes one character in the middle of a token segment, keeping it
// valid base64url.
func flip(tok string, segment int) string {
	parts := strings.Split(tok, ".")
	s := []byte(parts[segment])
	i := len(s) / 2
	if s[i] == 'A' {
		s[i] = 'B'
	} else {
		s[i] = 'A'
	}
	parts[segment] = string(s)
	return strings.Join(parts, ".")
}

// TestHostileTokens is the point of the package: each token is one an
// attacker (or a broken backend) could send, and each must be refused with
// the right code and a message that names the reason and nothing else.
func TestHostileTokens(t *testing.T) {
	rsaPEM := pemOf(t, &rsaKey().PublicKey)
	hmacV := newVerifier(t, auth.Config{HMACSecret: testSecret})
	rsaV := newVerifier(t, auth.Config{PublicKeyPEM: rsaPEM})
	bothV := newVerifier(t, auth.Config{HMACSecret: testSecret, PublicKeyPEM: rsaPEM})
	ecV := newVerifier(t, auth.Config{PublicKeyPEM: pemOf(t, &ecKeys()["ES256"].PublicKey)})
	audV := newVerifier(t, auth.Config{HMACSecret: testSecret, Audience: "herald", Issuer: "https://app.example"})

	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil) }
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, rsaKey(), c, nil) }
	now := time.Now()
	ago := func(d time.Duration) int64 { return now.Add(-d).Unix() }
	in := func(d time.Duration) int64 { return now.Add(d).Unix() }

	good := hs(valid())
	unsigned := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid(), nil)
	expiredForged := flip(hs(with("exp", ago(time.Hour))), 2)

	const (
		unauth  = herald.ErrUnauthorized
		expired = herald.ErrTokenExpired
	)
	tests := []struct {
		name  string
		v     *auth.Verifier
		token string
		code  herald.ErrorCode // 0: accepted
		msg   string
	}{
		{"valid HS256", hmacV, good, 0, ""},

		// Algorithms.
		{"alg none against HMAC", hmacV, unsigned, unauth, "token algorithm none is not allowed"},
		{"alg none against RSA", rsaV, unsigned, unauth, "token algorithm none is not allowed"},
		{"alg None spelled otherwise", hmacV, raw(`{"alg":"None"}`, `{"sub":"alice"}`, ""), unauth, "token algorithm is missing or not supported"},
		{"alg missing", hmacV, raw(`{"typ":"JWT"}`, `{"sub":"alice"}`, "c2ln"), unauth, "token algorithm is missing or not supported"},
		{"alg not a string", hmacV, raw(`{"alg":256}`, `{"sub":"alice"}`, "c2ln"), unauth, "token algorithm is missing or not supported"},
		{"alg confusion: HS256 keyed with the RSA public key", rsaV,
			sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), valid(), nil), unauth, "token algorithm HS256 is not allowed"},
		{"alg confusion when HMAC is allowed too", bothV,
			sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), valid(), nil), unauth, "token signature is invalid"},
		{"RS256 against an HMAC verifier", hmacV, rs(valid()), unauth, "token algorithm RS256 is not allowed"},
		{"RS256 accepted when configured", bothV, rs(valid()), 0, ""},
		{"ES384 against a P-256 key", ecV,
			sign(t, jwt.SigningMethodES384, ecKeys()["ES384"], valid(), nil), unauth, "token algorithm ES384 is not allowed"},
		{"crit header", hmacV,
			sign(t, jwt.SigningMethodHS256, []byte(testSecret), valid(), map[string]any{"crit": []string{"b64"}, "b64": false}),
			unauth, "critical header"},

		// Signature.
		{"bad signature", hmacV, flip(good, 2), unauth, "token signature is invalid"},
		{"tampered claims", hmacV, flip(good, 1), unauth, ""},
		{"signature of another key", rsaV, sign(t, jwt.SigningMethodRS256, rsaKey2(), valid(), nil), unauth, "token signature is invalid"},
		{"signature stripped", hmacV, good[:strings.LastIndexByte(good, '.')+1], unauth, "token signature is invalid"},
		{"truncated signature", hmacV, good[:len(good)-10], unauth, ""},
		{"truncated to two segments", hmacV, good[:strings.LastIndexByte(good, '.')], unauth, "token is malformed"},
		{"four segments", hmacV, good + ".x", unauth, "token is malformed"},
		{"expired and forged is not merely expired", hmacV, expiredForged, unauth, "token signature is invalid"},

		// Time.
		{"expired beyond leeway", hmacV, hs(with("exp", ago(time.Minute))), expired, "token has expired"},
		{"expired within leeway", hmacV, hs(with("exp", ago(2*time.Second))), 0, ""},
		{"nbf in the future", hmacV, hs(with("nbf", in(time.Minute))), unauth, "not valid yet"},
		{"nbf within leeway", hmacV, hs(with("nbf", in(2*time.Second))), 0, ""},
		{"iat in the future", hmacV, hs(with("iat", in(time.Minute))), unauth, "issued in the future"},
		{"iat within leeway", hmacV, hs(with("iat", in(2*time.Second))), 0, ""},
		{"no exp", hmacV, hs(with("exp", nil)), 0, ""},
		{"expired with a wrong audience says audience", audV, hs(with("exp", ago(time.Hour), "aud", "other", "iss", "https://app.example")), unauth, "token audience does not match"},

		// Audience and issuer.
		{"right aud and iss", audV, hs(with("aud", "herald", "iss", "https://app.example")), 0, ""},
		{"aud among several", audV, hs(with("aud", []string{"api", "herald"}, "iss", "https://app.example")), 0, ""},
		{"wrong aud", audV, hs(with("aud", "billing", "iss", "https://app.example")), unauth, "token audience does not match"},
		{"missing aud", audV, hs(with("iss", "https://app.example")), unauth, "token audience does not match"},
		{"wrong iss", audV, hs(with("aud", "herald", "iss", "https://evil.example")), unauth, "token issuer does not match"},
		{"missing iss", audV, hs(with("aud", "herald")), unauth, "token issuer does not match"},

		// Claim types.
		{"sub a number", hmacV, hs(with("sub", 42)), unauth, "claim sub must be a string"},
		{"exp a string", hmacV, hs(with("exp", "2099-01-01")), unauth, "claim exp must be a number"},
		{"exp a numeric string", hmacV, hs(with("exp", "4102444800")), unauth, "claim exp must be a number"},
		{"exp out of range", hmacV, hsRaw(t, `{"sub":"alice","exp":1e300}`), unauth, "claim exp must be a number within range"},
		{"nbf an object", hmacV, hs(with("nbf", map[string]any{})), unauth, "claim nbf must be a number"},
		{"channels an object", hmacV, hs(with("channels", map[string]any{"news": true})), unauth, "claim channels must be an array of strings"},
		{"channels of numbers", hmacV, hs(with("channels", []int{1, 2})), unauth, "claim channels must be an array of strings"},
		{"channels a string", hmacV, hs(with("channels", "news")), unauth, "claim channels must be an array of strings"},
		{"aud a number", audV, hs(with("aud", 7, "iss", "https://app.example")), unauth, "claim aud must be a string or an array of strings"},
		{"iss an array", hmacV, hs(with("iss", []string{"a"})), unauth, "claim iss must be a string"},
		{"info a number", hmacV, hs(with("info", 7)), 0, ""},
		{"info an array", hmacV, hs(with("info", []any{1, "x", nil})), 0, ""},
		{"info a string", hmacV, hs(with("info", "hi")), 0, ""},
		{"info null", hmacV, hsRaw(t, `{"sub":"alice","info":null}`), 0, ""},
		{"claims an array", hmacV, hsRaw(t, `["sub","alice"]`), unauth, "token is malformed"},
		{"claims not JSON", hmacV, hsRaw(t, `{"sub":`), unauth, "token is malformed"},
		{"subscription token used to connect", hmacV, hs(with("channel", "news")), unauth, "subscription token cannot be used to connect"},

		// Shape and size.
		{"empty", hmacV, "", unauth, "token is missing"},
		{"garbage", hmacV, "hello, world", unauth, "token is malformed"},
		{"three garbage segments", hmacV, "a.b.c", unauth, "token is malformed"},
		{"header not base64", hmacV, "!!!." + b64(`{}`) + ".x", unauth, "token is malformed"},
		{"header not JSON", hmacV, raw(`alg`, `{}`, "x"), unauth, "token is malformed"},
		{"padded base64", hmacV, good + "==", unauth, ""},
		{"binary garbage", hmacV, string([]byte{0, 0xff, '.', 0x80, '.', 1}), unauth, "token is malformed"},
		{"1 MB token", hmacV, strings.Repeat("a", 1<<20), unauth, "token too large"},
		{"just over 8 KiB", hmacV, hs(with("info", strings.Repeat("x", auth.MaxTokenSize))), unauth, "token too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.v.VerifyConnect(context.Background(), tt.token)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.User != "alice" {
					t.Errorf("User = %q, want alice", got.User)
				}
				return
			}
			secrets := []string{testSecret, base64.RawURLEncoding.EncodeToString([]byte(testSecret)), "alice"}
			if len(tt.token) > 16 {
				secrets = append(secrets, tt.token)
			}
			checkRefusal(t, err, tt.code, tt.msg, secrets...)
		})
	}
}

func TestSubscribeTokens(t *testing.T) {
	v := newVerifier(t, auth.Config{HMACSecret: testSecret})
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte(testSecret), c, nil) }
	ctx := context.Background()

	tok := hs(jwt.MapClaims{"sub": "alice", "channel": "chat:secret", "exp": time.Now().Add(time.Hour).Unix(), "info": map[string]any{"role": "mod"}})
	got, err := v.VerifySubscribe(ctx, tok, "chat:secret")
	if err != nil {
		t.Fatal(err)
	}
	if got.User != "alice" || got.Channel != "chat:secret" || string(got.Info) != `{"role":"mod"}` || got.ExpiresAt.IsZero() {
		t.Errorf("claims = %+v", got)
	}

	tests := []struct {
		name, token, channel string
		code                 herald.ErrorCode
		msg                  string
	}{
		{"other channel", tok, "chat:public", herald.ErrUnauthorized, "token channel does not match"},
		{"prefix of the channel", tok, "chat:secret2", herald.ErrUnauthorized, "token channel does not match"},
		{"empty channel asked for", hs(jwt.MapClaims{"sub": "alice", "channel": ""}), "", herald.ErrUnauthorized, "no channel to check"},
		{"case differs", tok, "CHAT:SECRET", herald.ErrUnauthorized, "token channel does not match"},
		{"connection token", hs(valid()), "chat:secret", herald.ErrUnauthorized, "no channel claim"},
		{"channel a number", hs(jwt.MapClaims{"sub": "alice", "channel": 5}), "5", herald.ErrUnauthorized, "claim channel must be a string"},
		{"expired", hs(jwt.MapClaims{"sub": "alice", "channel": "chat:secret", "exp": time.Now().Add(-time.Hour).Unix()}), "chat:secret", herald.ErrTokenExpired, "token has expired"},
		{"unsigned", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "alice", "channel": "chat:secret"}, nil), "chat:secret", herald.ErrUnauthorized, "token algorithm none is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.VerifySubscribe(ctx, tt.token, tt.channel)
			checkRefusal(t, err, tt.code, tt.msg, testSecret, tt.token)
		})
	}
}

// TestClaims checks what a good token yields, including that claim names
// match exactly: encoding/json's case-insensitive struct matching would
// let "SUB" stand in for "sub".
func TestClaims(t *testing.T) {
	v := newVerifier(t, auth.Config{HMACSecret: testSecret})
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	got, err := v.VerifyConnect(context.Background(),
		hsRaw(t, `{"sub":"alice","exp":`+jsonInt(exp.Unix())+`,"info":{"a":[1,2]},"channels":["news"],"SUB":"admin"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.User != "alice" || !got.ExpiresAt.Equal(exp) || string(got.Info) != `{"a":[1,2]}` ||
		len(got.Channels) != 1 || got.Channels[0] != "news" {
		t.Errorf("claims = %+v", got)
	}

	anon, err := v.VerifyConnect(context.Background(), hsRaw(t, `{"SUB":"admin","Exp":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if anon.User != "" || !anon.ExpiresAt.IsZero() || anon.Info != nil || anon.Channels != nil {
		t.Errorf("anonymous claims = %+v", anon)
	}
}

func jsonInt(n int64) string { return strings.TrimSpace(string(must(jsonMarshal(n)))) }
