// Package auth verifies the JWTs that an application's backend issues to
// its users: connection tokens (who the user is, which channels the server
// subscribes them to) and subscription tokens (permission for one channel).
//
// Start with New: it takes a Config naming the keys to trust (an HMAC
// secret, a PEM public key, a JWKS URL, or several) and returns a Verifier
// whose VerifyConnect and VerifySubscribe the hub calls for each token.
// Mint makes HS256 tokens for development and for `herald token`.
//
// Every refusal carries a *herald.Error, found by herald.AsError: ErrTokenExpired
// when a genuine token has only expired, so that the client fetches a new
// one, and ErrUnauthorized for everything else, with a message that names
// the reason but repeats nothing secret and nothing of the token. The
// returned error also wraps the underlying cause for the server log.
//
// Signatures are checked by github.com/golang-jwt/jwt/v5 and remote key
// sets are read with github.com/MicahParks/keyfunc/v3; this package
// decides which algorithms and which keys may be used together, so that
// neither "alg": "none" nor a token "signed" with a public key as an HMAC
// secret gets through.
package auth
