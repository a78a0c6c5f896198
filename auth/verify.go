package auth

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks connection and subscription tokens. It is safe for
// concurrent use. Close it to stop refreshing a JWKS.
type Verifier struct {
	keys   *keys
	parser *jwt.Parser
	aud    string
	iss    string

	jwks      *jwksSource
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New checks cfg and returns a Verifier. With a JWKSURL it fetches the key
// set once, under ctx, and fails if that fetch fails: a wrong URL is found
// at start rather than at the first connect. ctx bounds only that fetch;
// the refreshes that follow run until Close.
//
// Errors name the config key at fault (token.hmac_secret,
// token.public_key, token.jwks_url, ...) and never repeat a secret.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	k, err := cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(k.allowed),
		jwt.WithLeeway(cfg.leeway()),
		// A token issued in the future means the clocks disagree by more
		// than the leeway, so its exp cannot be trusted either.
		jwt.WithIssuedAt(),
		// Refuse non-canonical base64, so a token has one spelling.
		jwt.WithStrictDecoding(),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v := &Verifier{keys: k, parser: jwt.NewParser(opts...), aud: cfg.Audience, iss: cfg.Issuer}
	if k.jwksURL != "" {
		life, cancel := context.WithCancel(context.WithoutCancel(ctx))
		src, err := newJWKSSource(ctx, life, cfg, k.allowed)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth: token.jwks_url: %w", err)
		}
		v.jwks, v.cancel = src, cancel
	}
	return v, nil
}

// Check reports what New would refuse in cfg, without fetching the key
// set, so that a configuration can be checked offline before it is used
// (herald config check). Its errors name the config key as New's do.
func (c Config) Check() error {
	if _, err := c.resolve(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// Algorithms returns the algorithms the Verifier accepts, for the log.
func (v *Verifier) Algorithms() []string {
	if v == nil {
		return nil
	}
	return slices.Clone(v.keys.allowed)
}

// Close stops the JWKS refresh and waits for it to end. Tokens are still
// verified afterwards, against the keys known at Close. Close may be
// called more than once, and on a nil Verifier.
func (v *Verifier) Close() {
	if v == nil || v.jwks == nil {
		return
	}
	v.closeOnce.Do(func() {
		v.cancel()
		v.jwks.close()
	})
}

// VerifyConnect checks a connection token. ctx bounds the wait for a key
// set refresh when the token names an unknown key id.
//
// A subscription token (one with a channel claim) is refused here, so that
// a token granting one channel cannot be replayed as a login.
func (v *Verifier) VerifyConnect(ctx context.Context, token string) (ConnectClaims, error) {
	c, err := v.verify(ctx, token)
	if err != nil {
		return ConnectClaims{}, err
	}
	if c.has("channel") {
		return ConnectClaims{}, refuse("a subscription token cannot be used to connect", errTokenKind)
	}
	// Types were checked by claims.Validate during parsing.
	user, _ := c.str("sub")
	channels, _ := c.strings("channels")
	return ConnectClaims{User: user, ExpiresAt: c.expiresAt(), Info: c.raw("info"), Channels: channels}, nil
}

// VerifySubscribe checks a subscription token for channel: its channel
// claim must equal channel exactly. The caller must also check that the
// returned User is the connection's user.
func (v *Verifier) VerifySubscribe(ctx context.Context, token, channel string) (SubscribeClaims, error) {
	if channel == "" {
		return SubscribeClaims{}, refuse("no channel to check the token against", errChannelMismatch)
	}
	c, err := v.verify(ctx, token)
	if err != nil {
		return SubscribeClaims{}, err
	}
	if !c.has("channel") {
		return SubscribeClaims{}, refuse("token has no channel claim: not a subscription token", errTokenKind)
	}
	ch, _ := c.str("channel")
	if ch != channel {
		return SubscribeClaims{}, refuse("token channel does not match", errChannelMismatch)
	}
	user, _ := c.str("sub")
	return SubscribeClaims{User: user, Channel: ch, ExpiresAt: c.expiresAt(), Info: c.raw("info")}, nil
}

// verify checks size, signature and registered claims.
func (v *Verifier) verify(ctx context.Context, token string) (claims, error) {
	switch {
	case v == nil:
		return nil, refuse("no token verifier configured", errNoVerifier)
	case len(token) > MaxTokenSize:
		return nil, refuse("token too large", errTooLarge)
	case token == "":
		return nil, refuse("token is missing", errEmpty)
	}
	var c claims
	tok, err := v.parser.ParseWithClaims(token, &c, v.keyfunc(ctx))
	if err != nil {
		return nil, v.refusal(tok, c, err)
	}
	return c, nil
}

// keyfunc returns the key for a token whose algorithm is already known to
// be allowed, and only a key of that algorithm's family: an HS256 token
// gets the HMAC secret or nothing, never a public key's bytes.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 4.1.11: extensions we do not know must fail.
			return nil, errCrit
		}
		alg := t.Method.Alg()
		if slices.Contains(hmacAlgs, alg) {
			if v.keys.hmac == nil {
				return nil, errNoKeyForAlg
			}
			return v.keys.hmac, nil
		}
		_, hasKID := t.Header["kid"]
		if v.jwks != nil && (hasKID || v.keys.static == nil) {
			got, err := v.jwks.key(ctx, t)
			if err != nil {
				return nil, err
			}
			return fitting(alg, got)
		}
		if v.keys.static != nil && keyFits(alg, v.keys.static) {
			return v.keys.static, nil
		}
		return nil, errNoKeyForAlg
	}
}

// fitting keeps only the keys that may verify alg.
func fitting(alg string, got any) (any, error) {
	set, ok := got.(jwt.VerificationKeySet)
	if !ok {
		if keyFits(alg, publicOf(got)) {
			return publicOf(got), nil
		}
		return nil, errKeyMismatch
	}
	var keep jwt.VerificationKeySet
	for _, k := range set.Keys {
		if keyFits(alg, publicOf(k)) {
			keep.Keys = append(keep.Keys, publicOf(k))
		}
	}
	if len(keep.Keys) == 0 {
		return nil, errNoKeyForAlg
	}
	return keep, nil
}
