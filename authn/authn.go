// Package authn is the hub's Authenticator made of what a deployment
// configures: a token verifier (package auth), the application backend's
// hooks (package hooks), or both. Tokens win when a client sends one; the
// hooks answer otherwise; without either, connections are anonymous only
// when Options.Anonymous says so.
//
// Start with New; cmd/herald builds the verifier and the hooks client from
// the configuration and hands them over.
package authn

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/hub"
)

// Options name the parts. At least one of Verifier and Hooks is set.
type Options struct {
	// Verifier checks connection and subscription tokens; nil refuses tokens.
	Verifier *auth.Verifier
	// Hooks asks the application backend; nil asks nothing.
	Hooks *hooks.Client
	// Anonymous admits connections that bring no credentials. Off, a
	// server that checks tokens does not let in whoever simply sends none.
	Anonymous bool
	// Logger receives refused tokens. Default slog.Default().
	Logger *slog.Logger
}

// Authenticator implements hub.Authenticator.
type Authenticator struct {
	verifier  *auth.Verifier
	hooks     *hooks.Client
	anonymous bool
	log       *slog.Logger
}

var _ hub.Authenticator = (*Authenticator)(nil)

// New returns the Authenticator; Close releases the parts.
func New(o Options) *Authenticator {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Authenticator{verifier: o.Verifier, hooks: o.Hooks, anonymous: o.Anonymous, log: o.Logger}
}

// Has reports whether the backend hook h is configured.
func (a *Authenticator) Has(h hooks.Hook) bool { return a.hooks != nil && a.hooks.Enabled(h) }

// Close stops the verifier's key refreshes and the hooks' idle connections.
func (a *Authenticator) Close() {
	if a == nil {
		return
	}
	if a.verifier != nil {
		a.verifier.Close()
	}
	if a.hooks != nil {
		_ = a.hooks.Close()
	}
}

var errNoTokens = herald.Errorf(herald.ErrUnauthorized, "this server verifies no tokens: connect without one")

func (a *Authenticator) Connect(ctx context.Context, c hub.Credentials) (hub.Identity, error) {
	switch {
	case c.Token != "":
		if a.verifier == nil {
			return hub.Identity{}, errNoTokens
		}
		claims, err := a.verifier.VerifyConnect(ctx, c.Token)
		if err != nil {
			return hub.Identity{}, a.refuseToken(err, c.Client)
		}
		if claims.User == "" && !a.anonymous {
			return hub.Identity{}, invalidToken("the token has no sub: anonymous connections are not allowed")
		}
		return hub.Identity{User: claims.User, Info: claims.Info, Channels: claims.Channels, ExpiresAt: claims.ExpiresAt}, nil
	case a.Has(hooks.ConnectHook):
		res, err := a.hooks.Connect(ctx, hooks.ConnectRequest{
			Client: c.Client, Transport: c.Conn.Transport, RemoteAddr: c.Conn.RemoteAddr,
			Headers: c.Conn.Header, Name: c.Name, Version: c.Version, Data: c.Data,
		})
		if err != nil {
			return hub.Identity{}, err
		}
		return hub.Identity{User: res.User, Info: res.Info, Channels: res.Channels, ExpiresAt: res.ExpiresAt}, nil
	case a.anonymous:
		return hub.Identity{}, nil
	}
	return hub.Identity{}, invalidToken("a token is required")
}

// refuseToken answers an expired connection token with an error, so the
// client fetches a new one and connects again on the same connection, and
// any other bad token by closing the connection without reconnect: a
// client that sends a forged token should not retry it.
func (a *Authenticator) refuseToken(err error, client string) error {
	e := herald.AsError(err)
	if e.Code == herald.ErrTokenExpired {
		return e
	}
	a.log.Info("connection token refused", "client", client, "reason", err)
	return invalidToken(e.Message)
}

func invalidToken(reason string) herald.Disconnect {
	d := herald.DisconnectInvalidToken
	if len(reason) > 100 {
		reason = reason[:100]
	}
	d.Reason = reason
	return d
}

func (a *Authenticator) Refresh(ctx context.Context, client string, current hub.Identity, token string) (hub.Identity, error) {
	switch {
	case token != "" && a.verifier != nil:
		claims, err := a.verifier.VerifyConnect(ctx, token)
		if err != nil {
			return hub.Identity{}, err
		}
		return hub.Identity{User: claims.User, Info: claims.Info, ExpiresAt: claims.ExpiresAt}, nil
	case token == "" && a.Has(hooks.RefreshHook):
		res, err := a.hooks.Refresh(ctx, hooks.RefreshRequest{Client: client, User: current.User})
		if err != nil {
			return hub.Identity{}, err
		}
		return hub.Identity{User: current.User, Info: res.Info, ExpiresAt: res.ExpiresAt}, nil
	case token != "":
		return hub.Identity{}, errNoTokens
	}
	return hub.Identity{}, herald.Errorf(herald.ErrBadRequest, "refresh needs a token")
}

func (a *Authenticator) Subscribe(ctx context.Context, c hub.SubscribeCheck) (hub.SubscribeGrant, error) {
	switch {
	case c.Token != "":
		if a.verifier == nil {
			return hub.SubscribeGrant{}, errNoTokens
		}
		claims, err := a.verifier.VerifySubscribe(ctx, c.Token, c.Channel)
		if err != nil {
			return hub.SubscribeGrant{}, err
		}
		if claims.User != c.User && !c.HTTPRead {
			return hub.SubscribeGrant{}, herald.Errorf(herald.ErrUnauthorized, "the subscription token is for another user")
		}
		return hub.SubscribeGrant{Info: claims.Info, ExpiresAt: claims.ExpiresAt, User: claims.User}, nil
	case c.HTTPRead:
		// The subscribe hook decides for a connection; a plain GET has none.
		return hub.SubscribeGrant{}, herald.Errorf(herald.ErrPermissionDenied, "channel %q needs a subscription token: send it as \"Authorization: Bearer <token>\" or in the token parameter", c.Channel)
	case a.Has(hooks.SubscribeHook):
		res, err := a.hooks.Subscribe(ctx, hooks.SubscribeRequest{Client: c.Client, User: c.User, Channel: c.Channel})
		if err != nil {
			return hub.SubscribeGrant{}, err
		}
		return hub.SubscribeGrant{Info: res.Info}, nil
	}
	return hub.SubscribeGrant{}, herald.Errorf(herald.ErrPermissionDenied, "channel %q needs a subscription token", c.Channel)
}

func (a *Authenticator) Publish(ctx context.Context, c hub.PublishCheck) (json.RawMessage, error) {
	if !a.Has(hooks.PublishHook) {
		return nil, herald.Errorf(herald.ErrPermissionDenied, "publishing to %q needs the backend's approval, and no publish hook is configured", c.Channel)
	}
	res, err := a.hooks.Publish(ctx, hooks.PublishRequest{Client: c.Client, User: c.User, Channel: c.Channel, Data: c.Data})
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}

// RPC forwards client RPC calls to the backend's rpc hook (a
// hub.RPCForwarder).
func (a *Authenticator) RPC(ctx context.Context, c herald.ClientInfo, method string, data []byte) ([]byte, error) {
	res, err := a.hooks.RPC(ctx, hooks.RPCRequest{Client: c.Client, User: c.User, Method: method, Data: data})
	if err != nil {
		var d *hooks.DisconnectError
		if errors.As(err, &d) {
			return nil, d.Disconnect
		}
		return nil, err
	}
	return res.Data, nil
}

// ForwardedHeaders picks the handshake headers the connect hook sees.
func (a *Authenticator) ForwardedHeaders(h http.Header) map[string]string {
	return a.hooks.ForwardedHeaders(h)
}
