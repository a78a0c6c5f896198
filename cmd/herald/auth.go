package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/metrics"
)

// newAuthenticator builds the authenticator, or returns nil when nothing is
// configured: every connection is then anonymous and tokens are refused.
func newAuthenticator(ctx context.Context, cfg Config, m *metrics.Metrics, log *slog.Logger) (*authn.Authenticator, error) {
	var o authn.Options
	t := cfg.Token
	pem := t.PublicKey
	if t.PublicKeyFile != "" {
		b, err := os.ReadFile(t.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("token.public_key_file: %w", err)
		}
		pem = string(b)
	}
	if t.HMACSecret != "" || pem != "" || t.JWKSURL != "" {
		v, err := auth.New(ctx, auth.Config{
			HMACSecret: t.HMACSecret, PublicKeyPEM: pem, JWKSURL: t.JWKSURL,
			Audience: t.Audience, Issuer: t.Issuer, Leeway: time.Duration(t.Leeway), Algorithms: t.Algorithms,
			Logger: log,
		})
		if err != nil {
			return nil, err
		}
		o.Verifier = v
	}
	h := cfg.Hooks
	if h.ConnectURL != "" || h.RefreshURL != "" || h.SubscribeURL != "" || h.PublishURL != "" || h.RPCURL != "" {
		static := map[string]string{}
		for _, kv := range h.Headers {
			name, value, _ := strings.Cut(kv, ":")
			static[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
		c, err := hooks.New(hooks.Config{
			ConnectURL: h.ConnectURL, RefreshURL: h.RefreshURL, SubscribeURL: h.SubscribeURL,
			PublishURL: h.PublishURL, RPCURL: h.RPCURL, Timeout: time.Duration(h.Timeout),
			ForwardHeaders: h.ForwardHeaders, Headers: static, Metrics: m, Logger: log,
		})
		if err != nil {
			if o.Verifier != nil {
				o.Verifier.Close()
			}
			return nil, err
		}
		o.Hooks = c
	}
	if o.Verifier == nil && o.Hooks == nil {
		return nil, nil
	}
	// With a way to authenticate configured, anonymous connections are
	// refused unless asked for: a server that checks tokens should not let
	// in whoever simply sends none.
	o.Anonymous = cfg.Dev || cfg.Client.AllowAnonymous
	o.Logger = log
	return authn.New(o), nil
}
