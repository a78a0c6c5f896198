package auth

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Config says which tokens a Verifier accepts. The zero value of every
// field is either "not used" or a safe default; at least one of
// HMACSecret, PublicKeyPEM and JWKSURL must be set.
type Config struct {
	// HMACSecret is the shared secret of HS256, HS384 and HS512 tokens
	// (config key token.hmac_secret).
	//
	// It must be at least 32 bytes: an HMAC token is an offline oracle for
	// its secret, so anyone holding one token can guess secrets as fast as
	// they can hash, and a short or human-chosen secret falls in hours.
	// Use 32 random bytes or more (e.g. `openssl rand -base64 32`).
	//
	// Anyone who knows the secret can mint tokens for any user: keep it
	// out of the browser and out of logs.
	HMACSecret string

	// PublicKeyPEM is one PEM-encoded public key (PKIX "PUBLIC KEY",
	// PKCS#1 "RSA PUBLIC KEY" or a "CERTIFICATE") (config key
	// token.public_key). Its type decides the algorithms: RSA (2048 bits
	// or more) allows RS256, RS384 and RS512; ECDSA allows the one
	// algorithm of its curve (P-256 ES256, P-384 ES384, P-521 ES512);
	// Ed25519 allows EdDSA. A private key is refused: Herald needs only
	// the public half, and should never hold the other.
	PublicKeyPEM string

	// JWKSURL is an http:// or https:// URL serving a JSON Web Key Set
	// (config key token.jwks_url), as identity providers publish at
	// /.well-known/jwks.json. New fetches it once and fails if it cannot;
	// afterwards it is fetched again every JWKSRefreshInterval, and when a
	// token names a key id the set does not hold (the provider rotated its
	// keys), at most once per JWKSMinRefreshInterval. When a fetch fails
	// the keys already known stay in use. A token with a kid header is
	// checked against this set only.
	//
	// Danger: over plain http:// whoever can touch the network path can
	// serve their own keys and mint any token; use https:// except on
	// loopback or a network you fully control. Symmetric ("oct") keys in
	// the set are never used, and keys marked "use": "enc" neither.
	JWKSURL string

	// JWKSRefreshInterval is how often the key set is fetched to pick up
	// rotations and revocations. Default: 1 hour.
	JWKSRefreshInterval time.Duration

	// JWKSMinRefreshInterval is the least time between two fetches caused
	// by tokens with an unknown key id, so that a flood of made-up key ids
	// cannot turn Herald into a tool for hammering the identity provider.
	// A token whose kid is unknown while the limit holds is refused at
	// once, never queued. Default: 1 minute.
	JWKSMinRefreshInterval time.Duration

	// Audience, when set, must appear in the token's aud claim (config
	// key token.audience). Set it whenever the backend's keys also sign
	// tokens for other services: otherwise a token meant for another
	// service is good here too.
	Audience string

	// Issuer, when set, must equal the token's iss claim (config key
	// token.issuer).
	Issuer string

	// Leeway is the clock skew allowed between the backend and Herald when
	// checking exp, nbf and iat (config key token.leeway). Default: 5
	// seconds; a negative value means none. More than 5 minutes is refused:
	// every second of leeway is a second an expired (perhaps revoked)
	// token is still accepted; fix the clocks with NTP instead.
	Leeway time.Duration

	// Algorithms, when set, is the exact list of JWS algorithms accepted
	// (config key token.algorithms), e.g. ["RS256"] to refuse RS384 and
	// RS512 tokens from an RSA key. Each must have a configured key of its
	// family: "HS256" with only a public key configured is refused, since
	// that is how algorithm confusion attacks start. "none" is never
	// accepted. Default: every algorithm of the configured keys (for a
	// JWKS: RS256/384/512, ES256/384/512 and EdDSA; PS256/384/512 only
	// when listed here).
	Algorithms []string

	// Logger receives JWKS refresh failures. Default: slog.Default().
	Logger *slog.Logger
}

const (
	// MaxTokenSize is the size above which a token is refused before any
	// parsing, so that a hostile client cannot make the server decode
	// megabytes of base64 and JSON per connect.
	MaxTokenSize = 8 << 10

	// MinHMACSecret is the shortest HMACSecret accepted, in bytes: the
	// output size of SHA-256, the least RFC 7518 section 3.2 allows.
	MinHMACSecret = 32

	defaultLeeway               = 5 * time.Second
	maxLeeway                   = 5 * time.Minute
	defaultJWKSRefresh          = time.Hour
	defaultJWKSMinRefresh       = time.Minute
	jwksFetchTimeout            = 10 * time.Second
	maxJWKSSize           int64 = 1 << 20
)

// Algorithm families: the only key type each algorithm may be paired with.
var (
	hmacAlgs  = []string{"HS256", "HS384", "HS512"}
	rsaAlgs   = []string{"RS256", "RS384", "RS512"}
	rsaPSAlgs = []string{"PS256", "PS384", "PS512"}
	ecAlgs    = []string{"ES256", "ES384", "ES512"}
	edAlgs    = []string{"EdDSA"}
)

// knownAlg says whether alg is a registered JWS algorithm name, so that it
// may be repeated in an error message without echoing attacker text.
func knownAlg(alg string) bool {
	return alg == "none" || slices.Contains(hmacAlgs, alg) || slices.Contains(rsaAlgs, alg) ||
		slices.Contains(rsaPSAlgs, alg) || slices.Contains(ecAlgs, alg) || slices.Contains(edAlgs, alg)
}

func (c Config) leeway() time.Duration {
	switch {
	case c.Leeway < 0:
		return 0
	case c.Leeway == 0:
		return defaultLeeway
	}
	return c.Leeway
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// keys holds what a valid Config resolves to.
type keys struct {
	hmac      []byte
	static    any      // the PublicKeyPEM key, or nil
	staticAlg []string // algorithms of the static key
	jwksURL   string
	allowed   []string
}

// resolve checks the Config and works out the keys and the algorithms.
// Errors name the config key and never contain the secret or the PEM.
func (c Config) resolve() (*keys, error) {
	k := &keys{}
	var defaults []string
	if c.HMACSecret != "" {
		if len(c.HMACSecret) < MinHMACSecret {
			return nil, fmt.Errorf("token.hmac_secret: is %d bytes, needs at least %d: "+
				"anyone holding one token can test guesses of a short secret offline; use 32 random bytes or more",
				len(c.HMACSecret), MinHMACSecret)
		}
		k.hmac = []byte(c.HMACSecret)
		defaults = append(defaults, hmacAlgs...)
	}
	if strings.TrimSpace(c.PublicKeyPEM) != "" {
		pub, algs, err := parsePublicKeyPEM(c.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("token.public_key: %w", err)
		}
		k.static, k.staticAlg = pub, algs
		defaults = append(defaults, algs...)
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("token.jwks_url: must be an http:// or https:// URL")
		}
		k.jwksURL = c.JWKSURL
		defaults = append(defaults, rsaAlgs...)
		defaults = append(defaults, ecAlgs...)
		defaults = append(defaults, edAlgs...)
	}
	if k.hmac == nil && k.static == nil && k.jwksURL == "" {
		return nil, fmt.Errorf("no token key configured: set token.hmac_secret, token.public_key or token.jwks_url")
	}
	if c.Leeway > maxLeeway {
		return nil, fmt.Errorf("token.leeway: %v is more than %v; every second of leeway keeps expired tokens valid, fix the clocks instead",
			c.Leeway, maxLeeway)
	}

	if len(c.Algorithms) == 0 {
		k.allowed = slices.Compact(slices.Sorted(slices.Values(defaults)))
		return k, nil
	}
	for _, alg := range c.Algorithms {
		if !k.hasKeyFor(alg) {
			if !knownAlg(alg) || alg == "none" {
				return nil, fmt.Errorf("token.algorithms: %q is not a supported signing algorithm", alg)
			}
			return nil, fmt.Errorf("token.algorithms: %s has no configured key of its type "+
				"(HS* needs token.hmac_secret; RS*, PS*, ES*, EdDSA need token.public_key or token.jwks_url)", alg)
		}
		if !slices.Contains(k.allowed, alg) {
			k.allowed = append(k.allowed, alg)
		}
	}
	return k, nil
}

// hasKeyFor says whether a configured key could verify alg.
func (k *keys) hasKeyFor(alg string) bool {
	switch {
	case slices.Contains(hmacAlgs, alg):
		return k.hmac != nil
	case slices.Contains(rsaAlgs, alg) || slices.Contains(rsaPSAlgs, alg) ||
		slices.Contains(ecAlgs, alg) || slices.Contains(edAlgs, alg):
		return k.jwksURL != "" || (k.static != nil && keyFits(alg, k.static))
	}
	return false
}
