package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ConnectClaims is what a valid connection token says.
type ConnectClaims struct {
	// User is the sub claim: the application's user id; empty means an
	// anonymous connection, which the hub may or may not allow.
	User string
	// ExpiresAt is the exp claim; zero if the token has none (it never
	// expires, which the backend should avoid). It may lie up to
	// Config.Leeway in the past: whoever schedules the expiry should
	// allow the same leeway.
	ExpiresAt time.Time
	// Info is the info claim as it was in the token (any JSON), nil if
	// absent or null. It is passed to other clients, e.g. in presence.
	Info json.RawMessage
	// Channels is the channels claim: channels the server subscribes the
	// connection to at connect. The hub still validates each name.
	Channels []string
}

// SubscribeClaims is what a valid subscription token says.
type SubscribeClaims struct {
	// User is the sub claim. The hub must check that it equals the
	// connection's user: a subscription token grants one user one channel.
	User string
	// Channel is the channel claim, equal to the channel asked for.
	Channel string
	// ExpiresAt is the exp claim; zero if the token has none.
	ExpiresAt time.Time
	// Info is the info claim as it was in the token, nil if absent or null.
	Info json.RawMessage
}

// claimTypeError is a claim of the wrong JSON type. Its text names the
// claim and the type wanted, never the value.
type claimTypeError struct {
	claim string
	want  string
}

func (e *claimTypeError) Error() string { return "claim " + e.claim + " must be " + e.want }

// Is makes errors.Is(err, jwt.ErrInvalidType) hold, as for jwt's own claims.
func (e *claimTypeError) Is(target error) bool { return target == jwt.ErrInvalidType }

// claims is a token's payload kept as raw JSON per claim, so that a claim
// of the wrong type is a precise error found after the signature check,
// not a JSON error found before it. Keys match exactly (encoding/json's
// struct decoding would let "SUB" stand for "sub").
type claims map[string]json.RawMessage

var _ jwt.ClaimsValidator = (*claims)(nil)

func (c *claims) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' {
		return errors.New("claims are not a JSON object")
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = m
	return nil
}

// raw returns the claim's JSON, nil when absent or null.
func (c claims) raw(name string) json.RawMessage {
	r, ok := c[name]
	if !ok || string(r) == "null" {
		return nil
	}
	return r
}

func (c claims) has(name string) bool { return c.raw(name) != nil }

func (c claims) str(name string) (string, error) {
	r := c.raw(name)
	if r == nil {
		return "", nil
	}
	var s string
	if r[0] != '"' || json.Unmarshal(r, &s) != nil {
		return "", &claimTypeError{name, "a string"}
	}
	return s, nil
}

func (c claims) strings(name string) ([]string, error) {
	r := c.raw(name)
	if r == nil {
		return nil, nil
	}
	var ss []string
	if r[0] != '[' || json.Unmarshal(r, &ss) != nil {
		return nil, &claimTypeError{name, "an array of strings"}
	}
	return ss, nil
}

// date reads a NumericDate: seconds since the epoch, fractions allowed.
func (c claims) date(name string) (*jwt.NumericDate, error) {
	r := c.raw(name)
	if r == nil {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil {
		return nil, &claimTypeError{name, "a number (seconds since 1970)"}
	}
	// Beyond ±2^53 s (285 million years) the conversion to time.Time
	// would overflow; no honest token says that.
	if math.Abs(f) > 1<<53 {
		return nil, &claimTypeError{name, "a number within range"}
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), nil
}

func (c claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.date("exp") }
func (c claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.date("iat") }
func (c claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.date("nbf") }
func (c claims) GetIssuer() (string, error)                   { return c.str("iss") }
func (c claims) GetSubject() (string, error)                  { return c.str("sub") }

func (c claims) GetAudience() (jwt.ClaimStrings, error) {
	r := c.raw("aud")
	if r == nil {
		return nil, nil
	}
	if r[0] == '"' {
		s, err := c.str("aud")
		if err != nil {
			return nil, err
		}
		return jwt.ClaimStrings{s}, nil
	}
	ss, err := c.strings("aud")
	if err != nil {
		return nil, &claimTypeError{"aud", "a string or an array of strings"}
	}
	return ss, nil
}

// Validate checks the types of every claim Herald reads, so that each
// wrong one is reported whether or not the validator asked for it.
func (c claims) Validate() error {
	var errs []error
	for _, name := range []string{"sub", "iss", "channel"} {
		if _, err := c.str(name); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := c.GetAudience(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.strings("channels"); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return claimErrors(errs)
}

// claimErrors joins errors on one line, for the log.
type claimErrors []error

func (e claimErrors) Unwrap() []error { return e }
func (e claimErrors) Error() string {
	s := e[0].Error()
	for _, err := range e[1:] {
		s += "; " + err.Error()
	}
	return s
}

// expiresAt returns exp as a time, zero when absent; call after Validate.
func (c claims) expiresAt() time.Time {
	d, err := c.date("exp")
	if err != nil || d == nil {
		return time.Time{}
	}
	return d.Time
}
