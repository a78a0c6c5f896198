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
// cfg has passed Config.validate, which ran the same parts' checks.
func newAuthenticator(ctx context.Context, cfg Config, m *metrics.Metrics, log *slog.Logger) (*authn.Authenticator, error) {
	var o authn.Options
	ac, ok, err := authConfig(cfg)
	if err != nil {
		return nil, err
	}
	if ok {
		ac.Logger = log
		v, err := auth.New(ctx, ac)
		if err != nil {
			return nil, err
		}
		o.Verifier = v
	}
	if hc, ok := hooksConfig(cfg); ok {
		hc.Metrics, hc.Logger = m, log
		c, err := hooks.New(hc)
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

// authConfig is the token verifier's configuration; ok is false when no
// token key is set. It reads token.public_key_file.
func authConfig(cfg Config) (c auth.Config, ok bool, err error) {
	t := cfg.Token
	pem := t.PublicKey
	if t.PublicKeyFile != "" {
		b, err := os.ReadFile(t.PublicKeyFile)
		if err != nil {
			return auth.Config{}, false, fmt.Errorf("token.public_key_file: %w", err)
		}
		pem = string(b)
	}
	if t.HMACSecret == "" && pem == "" && t.JWKSURL == "" {
		return auth.Config{}, false, nil
	}
	return auth.Config{
		HMACSecret: t.HMACSecret, PublicKeyPEM: pem, JWKSURL: t.JWKSURL,
		Audience: t.Audience, Issuer: t.Issuer, Leeway: time.Duration(t.Leeway), Algorithms: t.Algorithms,
	}, true, nil
}

// hooksConfig is the backend hooks' configuration; ok is false when no
// hook URL is set.
func hooksConfig(cfg Config) (c hooks.Config, ok bool) {
	h := cfg.Hooks
	if h.ConnectURL == "" && h.RefreshURL == "" && h.SubscribeURL == "" && h.PublishURL == "" && h.RPCURL == "" {
		return hooks.Config{}, false
	}
	static := map[string]string{}
	for _, kv := range h.Headers {
		name, value, _ := strings.Cut(kv, ":")
		static[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	return hooks.Config{
		ConnectURL: h.ConnectURL, RefreshURL: h.RefreshURL, SubscribeURL: h.SubscribeURL,
		PublishURL: h.PublishURL, RPCURL: h.RPCURL, Timeout: time.Duration(h.Timeout),
		ForwardHeaders: h.ForwardHeaders, Headers: static,
	}, true
}

// validateParts runs the checks the token verifier and the hooks client
// make when serve builds them, offline (the JWKS is not fetched), so that
// `config check` refuses what serve would and serve refuses it while it
// still knows which file, variable or flag set the key.
func (c *Config) validateParts(p *problems) {
	ac, ok, err := authConfig(*c)
	switch {
	case err != nil:
		p.addError("token.public_key_file", err)
	case ok:
		if err := ac.Check(); err != nil {
			p.addError("token", err)
		}
	}
	if hc, ok := hooksConfig(*c); ok {
		hc, err := hooks.New(hc)
		if err != nil {
			p.addError("hooks", err)
		}
		hc.Close()
	}
}
