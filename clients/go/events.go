package client

import (
	"encoding/json"
	"sync"
	"time"
)

// Codes the client uses in its own events. They are below every code the
// server sends (errors 100-199, disconnects 1000-4999), so one Code field
// can carry either.
const (
	// CodeConnectCalled: Connect started connecting.
	CodeConnectCalled uint32 = 0
	// CodeTransportClosed: the connection ended without a Herald code (a
	// network failure, a close without a code such as 1006, a failed write).
	CodeTransportClosed uint32 = 1
	// CodeNoPing: no message from the server for its ping interval plus
	// Options.PingGrace; the client closed the connection as dead.
	CodeNoPing uint32 = 2
	// CodeClientClosed: Close was called.
	CodeClientClosed uint32 = 3
	// CodeConnectTimeout: no connect reply within Options.ConnectTimeout.
	CodeConnectTimeout uint32 = 4
	// CodeBadServerMessage: the server sent a message that is not valid
	// protocol v1; the client reconnects.
	CodeBadServerMessage uint32 = 5
	// CodeSubscribeCalled: Subscribe started subscribing.
	CodeSubscribeCalled uint32 = 6
	// CodeUnsubscribeCalled: Unsubscribe ended the subscription.
	CodeUnsubscribeCalled uint32 = 7
	// CodeServerUnsubscribed: the server ended the subscription (an unsub
	// push, sent when the application unsubscribed the connection).
	CodeServerUnsubscribed uint32 = 8
)

var codeReasons = map[uint32]string{
	CodeConnectCalled:      "connect called",
	CodeTransportClosed:    "transport closed",
	CodeNoPing:             "no ping from the server",
	CodeClientClosed:       "client closed",
	CodeConnectTimeout:     "no connect reply in time",
	CodeBadServerMessage:   "the server sent an invalid message",
	CodeSubscribeCalled:    "subscribe called",
	CodeUnsubscribeCalled:  "unsubscribe called",
	CodeServerUnsubscribed: "unsubscribed by the server",
}

// ConnectingEvent: the client is (re)connecting. Code and Reason say why
// the previous state ended: CodeConnectCalled, a local code, or the
// server's disconnect code (4000 shutdown, say).
type ConnectingEvent struct {
	Code   uint32
	Reason string
}

// ConnectedEvent: the server answered connect.
type ConnectedEvent struct {
	ClientID string
	// User is the authenticated user, "" for an anonymous connection.
	User          string
	ServerVersion string
	// PingInterval is how often the server pings (0: it announced none).
	PingInterval time.Duration
}

// DisconnectedEvent: the client stopped and will not reconnect on its own:
// Close was called (CodeClientClosed) or the server sent a code whose
// catalog entry says not to reconnect (4503 force_disconnect, say).
type DisconnectedEvent struct {
	Code   uint32
	Reason string
}

// SubscribingEvent: the subscription is being (re)established. Code and
// Reason say why: CodeSubscribeCalled, or the code that ended the
// connection it had.
type SubscribingEvent struct {
	Code   uint32
	Reason string
}

// SubscribedEvent: the server confirmed the subscription. In a channel with
// history (Recoverable), Offset and Epoch are its position.
type SubscribedEvent struct {
	Recoverable bool
	// WasRecovering: the subscribe asked to recover from a known position
	// (a resubscribe after a reconnect, or SubscriptionOptions.Since).
	WasRecovering bool
	// Recovered: every publication missed since that position follows this
	// event, in order. WasRecovering without Recovered means some are
	// lost: refetch the state from the application.
	Recovered bool
	// Publications is how many recovered publications follow this event
	// (OnPublication), those already handled left out.
	Publications int
	Offset       uint64
	Epoch        string
}

// UnsubscribedEvent: the subscription ended. Code is CodeUnsubscribeCalled,
// CodeServerUnsubscribed, CodeClientClosed, or the server's error code when
// it refused the subscribe (102 unknown_namespace, say).
type UnsubscribedEvent struct {
	Code   uint32
	Reason string
}

// Publication is one message published to a channel. Offset and Epoch are
// set in channels with history, except for ephemeral publications.
type Publication struct {
	Channel string
	Offset  uint64
	Epoch   string
	Data    json.RawMessage
}

// ClientInfo describes a connection, in presence replies and join and leave
// events. User is "" for an anonymous connection.
type ClientInfo struct {
	Client string
	User   string
	Info   json.RawMessage
}

// eventQueue runs callbacks one at a time on its own goroutine, in the
// order they were queued. It is unbounded so that the socket reader never
// waits for the application.
type eventQueue struct {
	mu     sync.Mutex
	q      []func()
	closed bool
	wake   chan struct{} // 1-buffered
	done   chan struct{} // closed when the goroutine exits
}

func newEventQueue() *eventQueue {
	e := &eventQueue{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.run()
	return e
}

// push queues fn; after close it is dropped.
func (e *eventQueue) push(fn func()) {
	e.mu.Lock()
	if !e.closed {
		e.q = append(e.q, fn)
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) run() {
	defer close(e.done)
	for range e.wake {
		for {
			e.mu.Lock()
			q, closed := e.q, e.closed
			e.q = nil
			e.mu.Unlock()
			for _, fn := range q {
				fn()
			}
			if closed && len(q) == 0 {
				return
			}
			if len(q) == 0 {
				break
			}
		}
	}
}

// close runs what is queued and stops the goroutine, waiting for it. It
// must not be called from a callback.
func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	<-e.done
}
