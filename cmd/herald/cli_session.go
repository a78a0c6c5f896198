package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/protocol"
)

// The CLI's tools that hold a connection (sub, tap, check) run on the
// project's Go client, so that they reconnect, resubscribe and recover
// through a server restart exactly as an application does, and what a
// person sees in `herald sub` is what the application would see.

// cliMaxReconnectDelay caps the CLI's backoff lower than an application's
// default (20s): a person who restarts the server is watching.
const cliMaxReconnectDelay = 5 * time.Second

// cliSession is one tool's client and the reports of its state changes.
// Callbacks run on the client's event goroutine, one at a time, in order.
type cliSession struct {
	c   *client.Client
	rep *reporter // nil: report nothing
	// reconnect: after a lost connection the client reconnects and the
	// tool goes on; otherwise the loss ends the tool (check).
	reconnect bool

	mu       sync.Mutex
	starting func(error) // set during the first connect: a failed attempt ends it
	fatal    chan error  // 1-buffered: why the tool must stop

	// Owned by the event goroutine.
	connected bool      // the first connect succeeded: later ones are reconnects
	lostAt    time.Time // when the connection was lost, for "reconnected after"
	lastFail  string    // the last failed reconnect reported, not to repeat it
	// onConnected, when set, sees every ConnectedEvent (tap keeps its own
	// client id to leave its joins out).
	onConnected func(client.ConnectedEvent)
}

// sessionOptions say how a tool connects.
type sessionOptions struct {
	wsURL, transport, token string
	// timeout bounds opening the transport and the connect reply.
	timeout   time.Duration
	reconnect bool
}

func newCLISession(o sessionOptions, rep *reporter) *cliSession {
	s := &cliSession{rep: rep, reconnect: o.reconnect, fatal: make(chan error, 1)}
	s.c = client.New(o.wsURL, &client.Options{
		Token:             o.token,
		Name:              "herald-cli",
		Version:           version,
		Transports:        []string{o.transport},
		ConnectTimeout:    o.timeout,
		MaxReconnectDelay: cliMaxReconnectDelay,
		OnConnecting:      s.connecting,
		OnConnected:       s.connectedEvent,
		OnDisconnected:    s.disconnected,
		OnError:           s.clientError,
	})
	return s
}

// connect waits for the first connection. Unlike the reconnects that
// follow, it gives up at the first failed attempt, with its reason: a
// wrong URL or a refused token is the person's to fix, not to retry.
func (s *cliSession) connect(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	s.mu.Lock()
	s.starting = fail
	s.mu.Unlock()
	err := s.c.Connect(ctx)
	s.mu.Lock()
	s.starting = nil
	s.mu.Unlock()
	var de *client.DisconnectError
	switch {
	case err == nil || errors.As(err, &de):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("timed out: no connect reply within %s", timeout)
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return describeAttempt(cause, timeout)
	}
	return err
}

// describeAttempt names a failed connection attempt the way a person acts
// on it: timed out, refused (and how), or ended by the server with a code.
func describeAttempt(err error, timeout time.Duration) error {
	var ce *client.ConnectError
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ce) && ce.Code == client.CodeConnectTimeout {
		return fmt.Errorf("timed out: no connect reply within %s: %s", timeout, clientText(err))
	}
	return err
}

// wait returns nil when ctx ends, or why the tool must stop: the server
// ended the connection with a code that forbids reconnecting, or (without
// reconnect) the connection was lost, or output failed.
func (s *cliSession) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.fatal:
		return err
	}
}

// stop makes wait return err (the first reason wins).
func (s *cliSession) stop(err error) {
	select {
	case s.fatal <- err:
	default:
	}
}

// check stops the tool if err, an output error of a callback, is not nil.
func (s *cliSession) check(err error) {
	if err != nil {
		s.stop(err)
	}
}

func (s *cliSession) close() { s.c.Close() }

func (s *cliSession) report(text string, fields map[string]any) {
	if s.rep != nil {
		s.rep.report(text, fields)
	}
}

func (s *cliSession) connecting(e client.ConnectingEvent) {
	if !s.connected {
		return // the first connect; a failure is connect's to report
	}
	if !s.reconnect {
		s.stop(fmt.Errorf("connection lost: %d %s", e.Code, e.Reason))
		return
	}
	s.lostAt, s.lastFail = time.Now(), ""
	s.report(fmt.Sprintf("connection lost (%s); reconnecting", describeCode(e.Code, e.Reason)),
		map[string]any{"event": "disconnected", "code": e.Code, "reason": e.Reason, "reconnect": true})
}

func (s *cliSession) connectedEvent(e client.ConnectedEvent) {
	if s.connected {
		took := time.Since(s.lostAt).Round(time.Millisecond)
		s.report(fmt.Sprintf("reconnected after %s as client %s", took, e.ClientID),
			map[string]any{"event": "connected", "client": e.ClientID, "after_ms": took.Milliseconds()})
	}
	s.connected = true
	if s.onConnected != nil {
		s.onConnected(e)
	}
}

func (s *cliSession) disconnected(e client.DisconnectedEvent) {
	if e.Code != client.CodeClientClosed {
		s.stop(&client.DisconnectError{Code: e.Code, Reason: e.Reason})
	}
}

func (s *cliSession) clientError(err error) {
	s.mu.Lock()
	starting := s.starting
	s.mu.Unlock()
	if starting != nil {
		starting(err)
		return
	}
	var gap *client.GapError
	var subErr *client.SubscribeError
	switch {
	case errors.As(err, &gap):
		s.report(fmt.Sprintf("gap in %s: publications %d to %d never arrived", gap.Channel, gap.Expected, gap.Got-1),
			map[string]any{"event": "gap", "channel": gap.Channel, "expected": gap.Expected, "got": gap.Got, "epoch": gap.Epoch})
	case errors.As(err, &subErr):
		s.report(fmt.Sprintf("subscribe %s: %v; retrying", subErr.Channel, describeReply(subErr.Err)),
			map[string]any{"event": "note", "channel": subErr.Channel, "code": subErr.Err.Code, "message": describeReply(subErr.Err).Error()})
	case s.connected && s.c.State() != client.Connected:
		// A failed reconnect attempt; the same failure once is enough.
		if text := clientText(err); text != s.lastFail {
			s.lastFail = text
			s.report("reconnect failed: "+text+"; retrying", map[string]any{"event": "reconnect_failed", "message": text})
		}
	default:
		s.report(clientText(err), map[string]any{"event": "note", "message": clientText(err)})
	}
}

// describeCode is a disconnect code and its reason, without the client's
// local codes, which mean nothing to a person: "4000 shutting down".
func describeCode(code uint32, reason string) string {
	if code < 100 {
		return reason
	}
	return fmt.Sprintf("%d %s", code, reason)
}

// clientText is a Go client error without its "herald: " prefixes, which
// the tool's own prefix makes redundant, and for a failed dial only the
// network's words ("dial tcp 127.0.0.1:8000: connect: connection
// refused"), not every layer's.
func clientText(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	return strings.ReplaceAll(err.Error(), "herald: ", "")
}

// plainError is a Go client error that prints as clientText and still
// unwraps to its codes.
type plainError struct{ err error }

func (e plainError) Error() string { return clientText(e.err) }
func (e plainError) Unwrap() error { return e.err }

// describeReply turns the Go client's error reply into the CLI's words:
// "invalid channel name (109): ...".
func describeReply(e *client.Error) error {
	return &replyError{Code: e.Code, Message: e.Message}
}

// describeCallError names what failed or timed out: "context deadline
// exceeded" does not tell a person which step to look at.
func describeCallError(err error, step string, timeout time.Duration) error {
	var e *client.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: no reply within %s", step, timeout)
	case errors.As(err, &e):
		return fmt.Errorf("%s: %w", step, describeReply(e))
	}
	return fmt.Errorf("%s: %w", step, plainError{err})
}

// subscribeAll subscribes to every channel of specs, in order, each with
// its OnSubscribed reporting the subscribe and every resubscribe after a
// reconnect (recovered or not); with quietRecovery only a recovery that
// lost publications is reported. A refusal is reported and returned as
// refused (the first one); err is a call failing (timeout, lost
// connection).
func (s *cliSession) subscribeAll(ctx context.Context, specs []subSpec, quietRecovery bool) (refused, err error) {
	subs := make([]*client.Subscription, len(specs))
	for i, sp := range specs {
		opts := sp.opts
		opts.OnSubscribed = s.subscribedReporter(sp.channel, quietRecovery)
		sub, err := s.c.NewSubscription(sp.channel, &opts)
		if err != nil {
			return nil, err
		}
		subs[i] = sub
	}
	for i, sub := range subs {
		err := sub.Subscribe(ctx)
		var e *client.Error
		switch {
		case errors.As(err, &e):
			msg := describeReply(e)
			s.report(fmt.Sprintf("subscribe %s: %v", specs[i].channel, msg),
				map[string]any{"event": "error", "channel": specs[i].channel, "code": e.Code, "message": msg.Error()})
			if refused == nil {
				refused = msg
			}
		case err != nil:
			return nil, err
		}
	}
	return refused, nil
}

// subSpec is one channel to subscribe to; opts' OnSubscribed is set by
// subscribeAll.
type subSpec struct {
	channel string
	opts    client.SubscriptionOptions
}

func (s *cliSession) subscribedReporter(ch string, quietRecovery bool) func(client.SubscribedEvent) {
	again := false
	return func(e client.SubscribedEvent) {
		verb := "subscribed to"
		if again {
			verb = "resubscribed to"
		}
		fields := map[string]any{"event": "subscribed", "channel": ch}
		if again {
			fields["resubscribed"] = true
		}
		if e.Epoch != "" {
			fields["offset"], fields["epoch"] = e.Offset, e.Epoch
			s.report(fmt.Sprintf("%s %s at offset %d, epoch %s", verb, ch, e.Offset, e.Epoch), fields)
		} else {
			s.report(verb+" "+ch, fields)
		}
		switch {
		case e.WasRecovering && !(quietRecovery && e.Recovered):
			s.report(fmt.Sprintf("recovered %d publications of %s (recovered: %t)", e.Publications, ch, e.Recovered),
				map[string]any{"event": "recovered", "channel": ch, "publications": e.Publications, "recovered": e.Recovered})
		case again && !e.Recoverable:
			s.report(ch+" keeps no history: what was published while disconnected is lost",
				map[string]any{"event": "recovered", "channel": ch, "publications": 0, "recovered": false})
		}
		again = true
	}
}

// pubPush is a Publication in the wire's shape, which the printers take.
func pubPush(p client.Publication) *protocol.PubPush {
	return &protocol.PubPush{Offset: p.Offset, Epoch: p.Epoch, Data: p.Data}
}

func clientInfoPush(ci client.ClientInfo) *protocol.ClientInfo {
	return &protocol.ClientInfo{Client: ci.Client, User: ci.User, Info: ci.Info}
}

// tokenRefused reports whether err is the server refusing the connection
// token (4502), however the tool learned it.
func tokenRefused(err error) bool {
	code := herald.DisconnectInvalidToken.Code
	var d *disconnectError
	var de *client.DisconnectError
	var ce *client.ConnectError
	return errors.As(err, &d) && d.Code == code ||
		errors.As(err, &de) && de.Code == uint32(code) ||
		errors.As(err, &ce) && ce.Code == uint32(code)
}
