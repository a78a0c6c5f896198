package hub

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/heraldrt/herald"
)

// Credentials is what a connect command brings to be authenticated.
type Credentials struct {
	Client        string // the client id the connection will have
	Token         string
	Data          json.RawMessage
	Name, Version string
	Conn          herald.ConnInfo
}

// Identity is who a connection is, as the Authenticator established it.
type Identity struct {
	// User is the user id; empty for an anonymous connection.
	User string
	// Info is public data about the connection, shown in presence.
	Info json.RawMessage
	// Channels are subscribed by the server at connect.
	Channels []string
	// ExpiresAt is when the credentials expire; zero for never.
	ExpiresAt time.Time
}

// SubscribeCheck asks whether a connection may subscribe to a channel that
// needs a subscription token or the backend's approval.
type SubscribeCheck struct {
	Client, User, Channel string
	// Token is the subscription token sent, if any.
	Token string
	// HTTPRead is a read of the channel's history over plain HTTP
	// (Hub.HTTPHistory): no connection stands behind it, so Client and
	// User are empty and the token's own user is the reader, named in
	// the grant's User.
	HTTPRead bool
}

// SubscribeGrant is a subscription allowed by a token or the backend.
type SubscribeGrant struct {
	Info      json.RawMessage
	ExpiresAt time.Time // zero for never
	// User is the token's user, for an HTTPRead.
	User string
}

// PublishCheck asks the backend whether a client publication may go out.
type PublishCheck struct {
	Client, User, Channel string
	Data                  json.RawMessage
}

// Authenticator ties connections to the application's users: tokens it
// verifies, hooks into the application backend, or both. A returned
// *herald.Error is answered as an error reply; a herald.Disconnect (or
// *herald.Disconnect) closes the connection with that code.
type Authenticator interface {
	// Connect authenticates a connect command.
	Connect(ctx context.Context, c Credentials) (Identity, error)
	// Refresh replaces a connection's credentials with a new token's.
	Refresh(ctx context.Context, client string, current Identity, token string) (Identity, error)
	// Subscribe checks a subscription token, or asks the backend.
	Subscribe(ctx context.Context, c SubscribeCheck) (SubscribeGrant, error)
	// Publish asks the backend about a client publication; non-nil data
	// replaces the publication's.
	Publish(ctx context.Context, c PublishCheck) (json.RawMessage, error)
}

// asDisconnect reports whether err asks to close the connection.
func asDisconnect(err error) (herald.Disconnect, bool) {
	var d herald.Disconnect
	if errors.As(err, &d) {
		return d, true
	}
	var dp *herald.Disconnect
	if errors.As(err, &dp) {
		return *dp, true
	}
	return herald.Disconnect{}, false
}

// authenticate runs the Authenticator for a connect, or, without one,
// admits the connection as anonymous.
func (s *Session) authenticate(ctx context.Context, req Credentials) (Identity, error) {
	auth := s.hub.cfg.Auth
	if auth == nil {
		if req.Token != "" {
			return Identity{}, herald.Errorf(herald.ErrUnauthorized, "this server verifies no tokens: connect without one, or configure token verification")
		}
		return Identity{}, nil
	}
	return auth.Connect(ctx, req)
}

// ttl turns an expiry into the protocol's expires/ttl fields.
func ttl(at time.Time, now time.Time) (bool, uint32) {
	if at.IsZero() {
		return false, 0
	}
	d := at.Sub(now)
	if d < time.Second {
		return true, 1
	}
	return true, uint32(d / time.Second)
}

// may applies an access level for s in channel.
func (s *Session) may(access herald.Access, channel, action string) error {
	s.mu.Lock()
	user := s.user
	subscribed := slices.Contains(s.channels, channel)
	s.mu.Unlock()
	switch access {
	case herald.AccessAnyone:
		return nil
	case herald.AccessUser:
		if user == "" {
			return herald.Errorf(herald.ErrPermissionDenied, "only authenticated users may %s in %q: connect with a token", action, channel)
		}
		return nil
	case herald.AccessSubscriber:
		if !subscribed {
			return herald.Errorf(herald.ErrNotSubscribed, "subscribe to %q before you %s", channel, action)
		}
		return nil
	}
	return herald.Errorf(herald.ErrPermissionDenied, "nobody may %s in %q", action, channel)
}

// admitsUser applies a user-limited channel's list ("dm:chat#42,43").
func admitsUser(channel, user string) error {
	users, limited := herald.ChannelUsers(channel)
	if !limited {
		return nil
	}
	if user == "" || !slices.Contains(users, user) {
		return herald.Errorf(herald.ErrPermissionDenied, "channel %q admits only the users it lists after '#'", channel)
	}
	return nil
}

func orDefault(a, def herald.Access) herald.Access {
	if a == "" {
		return def
	}
	return a
}
