package client

import (
	"errors"
	"fmt"

	"github.com/heraldrt/herald"
)

// Error is a command's error reply from the server. Act on Code (the
// catalog in codes.json, e.g. herald.ErrPermissionDenied); Message is for
// people and may change.
type Error struct {
	Code    uint32
	Message string
	// Temporary says that the same command may succeed later: retry it
	// with backoff. Others fail again unless something changes.
	Temporary bool
}

func (e *Error) Error() string {
	code := herald.ErrorCode(e.Code)
	name := code.Name()
	// Name falls back to "internal" for a code it does not know, which would
	// misname a code from a newer server.
	if name == herald.ErrInternal.Name() && code != herald.ErrInternal {
		name = "error"
	}
	return fmt.Sprintf("herald: %d %s: %s", e.Code, name, e.Message)
}

// DisconnectError tells why the client stopped: the server disconnected it
// with a code that forbids reconnecting (herald.DisconnectForceDisconnect,
// say). Connect and the OnDisconnected event report it.
type DisconnectError struct {
	Code   uint32
	Reason string
}

func (e *DisconnectError) Error() string {
	return fmt.Sprintf("herald: disconnected with %d: %s", e.Code, e.Reason)
}

// ConnectError reports to OnError a connection attempt that ended before
// the server answered connect: Code and Reason say why, the server's
// disconnect code (4502 invalid token, say) or a local one
// (CodeTransportClosed). The client tries again unless the code forbids
// it; then Connect returns a *DisconnectError with the same code.
type ConnectError struct {
	Code   uint32
	Reason string
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("herald: connect: %d %s", e.Code, e.Reason)
}

// GapError reports publications that never arrived in a channel with
// history: a pub push came with an offset beyond the next expected one.
// The publication that revealed the gap is delivered; the missing ones can
// be read with History, or the app refetches its state.
type GapError struct {
	Channel  string
	Expected uint64 // the offset that should have come next
	Got      uint64 // the offset that came
	Epoch    string
}

func (e *GapError) Error() string {
	return fmt.Sprintf("herald: %q: publications %d to %d are missing (epoch %q)", e.Channel, e.Expected, e.Got-1, e.Epoch)
}

// SubscribeError is a temporary subscribe failure (the server's broker is
// down, say); the subscription stays Subscribing and retries with backoff.
type SubscribeError struct {
	Channel string
	Err     *Error
}

func (e *SubscribeError) Error() string {
	return fmt.Sprintf("herald: subscribe to %q failed, retrying: %v", e.Channel, e.Err)
}

func (e *SubscribeError) Unwrap() error { return e.Err }

// TokenError reports that GetToken failed: Options.GetToken (Channel "")
// or a subscription's (SubscriptionOptions.GetToken). Before a connect,
// the attempt fails and the client retries with backoff; before a
// subscribe, the subscription retries with backoff; before a refresh, the
// client leaves it to the server to end the expired connection (4005, and
// the client reconnects) or subscription (an unsub push).
type TokenError struct {
	Channel string
	Err     error
}

func (e *TokenError) Error() string {
	if e.Channel == "" {
		return fmt.Sprintf("herald: get token: %v", e.Err)
	}
	return fmt.Sprintf("herald: get token for %q: %v", e.Channel, e.Err)
}

func (e *TokenError) Unwrap() error { return e.Err }

// RefreshError reports that the server refused a refresh of expiring
// credentials: the connection's (Channel "") or a subscription token's.
// Retrying says that the client tries again before they expire; otherwise
// the server ends the connection when they do (4005 expired, and the
// client reconnects) or the subscription (an unsub push).
type RefreshError struct {
	Channel  string
	Err      *Error
	Retrying bool
}

func (e *RefreshError) Error() string {
	what := "the connection's credentials"
	if e.Channel != "" {
		what = fmt.Sprintf("the token of %q", e.Channel)
	}
	then := "they will expire"
	if e.Retrying {
		then = "retrying"
	}
	return fmt.Sprintf("herald: refresh of %s refused, %s: %v", what, then, e.Err)
}

func (e *RefreshError) Unwrap() error { return e.Err }

var (
	// ErrClosed is returned by every method of a closed Client.
	ErrClosed = errors.New("herald: client closed")
	// ErrConnectionLost is returned by a call whose connection ended
	// before the reply came: the server may or may not have carried it
	// out, so the client does not send it again on its own.
	ErrConnectionLost = errors.New("herald: connection lost before the reply: the command may or may not have been carried out")
	// ErrUnsubscribed is returned by Subscribe when Unsubscribe (or the
	// server) ended the subscription before it was confirmed.
	ErrUnsubscribed = errors.New("herald: unsubscribed before the subscription was confirmed")
	// ErrDuplicateSubscription is returned by NewSubscription for a channel
	// that already has one on this client.
	ErrDuplicateSubscription = errors.New("herald: the client already has a subscription to this channel")
)
