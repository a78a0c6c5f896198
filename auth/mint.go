package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintClaims is what Mint puts in a token.
type MintClaims struct {
	// User becomes sub; empty makes an anonymous token.
	User string
	// TTL sets exp to now+TTL. It must be positive: Mint makes no token
	// that lives forever.
	TTL time.Duration
	// Channel, when set, makes a subscription token for that channel.
	Channel string
	// Info becomes the info claim; it must be valid JSON.
	Info json.RawMessage
	// Channels become the channels claim of a connection token.
	Channels []string
	// Audience and Issuer become aud and iss when set.
	Audience, Issuer string
}

// Mint returns an HS256 token signed with secret, as the application's
// backend would make one; `herald token` uses it for development. The
// secret must be at least MinHMACSecret bytes, as for Config.HMACSecret.
func Mint(secret string, c MintClaims) (string, error) {
	if len(secret) < MinHMACSecret {
		return "", fmt.Errorf("auth: mint: the secret is %d bytes, needs at least %d", len(secret), MinHMACSecret)
	}
	if c.TTL <= 0 {
		return "", errors.New("auth: mint: TTL must be positive")
	}
	if c.Channel != "" && len(c.Channels) > 0 {
		return "", errors.New("auth: mint: a subscription token (Channel) cannot carry Channels")
	}
	now := time.Now()
	m := jwt.MapClaims{
		"iat": now.Unix(),
		"exp": now.Add(c.TTL).Unix(),
	}
	if c.User != "" {
		m["sub"] = c.User
	}
	if c.Channel != "" {
		m["channel"] = c.Channel
	}
	if len(c.Channels) > 0 {
		m["channels"] = c.Channels
	}
	if len(c.Info) > 0 {
		if !json.Valid(c.Info) {
			return "", errors.New("auth: mint: Info is not valid JSON")
		}
		m["info"] = c.Info
	}
	if c.Audience != "" {
		m["aud"] = c.Audience
	}
	if c.Issuer != "" {
		m["iss"] = c.Issuer
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	if len(s) > MaxTokenSize {
		return "", fmt.Errorf("auth: mint: the token is %d bytes; verifiers refuse tokens over %d", len(s), MaxTokenSize)
	}
	return s, nil
}
