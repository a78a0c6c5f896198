package auth

import (
	"errors"
	"slices"

	"github.com/golang-jwt/jwt/v5"
	"github.com/heraldrt/herald"
)

// Causes found by this package (those found by jwt are jwt.Err*).
var (
	errNoVerifier      = errors.New("nil verifier")
	errTooLarge        = errors.New("token too large")
	errEmpty           = errors.New("empty token")
	errCrit            = errors.New("token has a crit header")
	errNoKeyForAlg     = errors.New("no configured key for the token's algorithm")
	errKeyMismatch     = errors.New("the key named by kid is not of the token algorithm's type")
	errTokenKind       = errors.New("wrong kind of token")
	errChannelMismatch = errors.New("channel claim differs from the channel asked for")
)

// refusal is a refused token: a *herald.Error for the client, and the
// cause behind it for the server log. herald.AsError finds the former;
// errors.Is finds jwt's sentinels in the latter.
type refusal struct {
	public *herald.Error
	cause  error
}

func (r *refusal) Error() string   { return r.public.Message + " (" + r.cause.Error() + ")" }
func (r *refusal) Unwrap() []error { return []error{r.public, r.cause} }

func refuse(msg string, cause error) error {
	return &refusal{public: &herald.Error{Code: herald.ErrUnauthorized, Message: msg}, cause: cause}
}

// refusal turns what jwt said into a message an operator can act on.
// Messages are fixed texts: nothing from the token appears in them except
// an algorithm name that is a registered one.
//
// When several claims fail, the most fundamental wins and expiry comes
// last: ErrTokenExpired tells a client to fetch a fresh token, which is
// only worth doing when the token was good but for its age.
func (v *Verifier) refusal(tok *jwt.Token, c claims, err error) error {
	var typeErr *claimTypeError
	alg := ""
	if tok != nil && tok.Method != nil {
		alg = tok.Method.Alg()
	}
	switch {
	case alg != "" && !slices.Contains(v.keys.allowed, alg):
		if knownAlg(alg) {
			return refuse("token algorithm "+alg+" is not allowed", err)
		}
		return refuse("token algorithm is not allowed", err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse("token is malformed", err)
	case errors.Is(err, errUnknownKID):
		return refuse("unknown key id", err)
	case errors.Is(err, errCrit):
		return refuse("token has critical header parameters that are not supported", err)
	case errors.Is(err, errNoKeyForAlg), errors.Is(err, errKeyMismatch):
		return refuse("no key of the token algorithm "+alg+" matches", err)
	case errors.Is(err, jwt.ErrTokenUnverifiable) && alg == "":
		return refuse("token algorithm is missing or not supported", err)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// Other keyfunc failures, e.g. a kid that is not a string.
		return refuse("token cannot be verified", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse("token signature is invalid", err)
	// From here on the signature is good: the claims are the backend's.
	case errors.As(err, &typeErr):
		return refuse(typeErr.Error(), err)
	case v.aud != "" && (errors.Is(err, jwt.ErrTokenInvalidAudience) || !c.has("aud")):
		return refuse("token audience does not match", err)
	case v.iss != "" && (errors.Is(err, jwt.ErrTokenInvalidIssuer) || !c.has("iss")):
		return refuse("token issuer does not match", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse("token is not valid yet (nbf is in the future)", err)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse("token is issued in the future (iat); check the clocks", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return &refusal{public: &herald.Error{Code: herald.ErrTokenExpired, Message: "token has expired"}, cause: err}
	}
	return refuse("token is invalid", err)
}
