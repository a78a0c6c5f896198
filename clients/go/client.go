package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// State is the client's connection state.
type State int

const (
	// Disconnected: not started, stopped by a code that forbids
	// reconnecting, or closed. Only Connect leaves it.
	Disconnected State = iota
	// Connecting: dialling, waiting for the connect reply, or waiting out
	// the backoff before the next attempt.
	Connecting
	// Connected: the server answered connect; commands flow.
	Connected
)

func (s State) String() string {
	switch s {
	case Disconnected:
		return "disconnected"
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	}
	return "unknown"
}

// Client is a connection to a Herald server that reconnects on its own.
// It is safe for concurrent use. Close it when done, also if Connect was
// never called: it owns the event goroutine from New on.
//
// Locks: mu is taken before a conn's mu, which is taken before the event
// queue's; reply handlers and push handling run on a conn's reader
// without holding the conn's mu.
type Client struct {
	url    string
	urlErr error
	opts   Options
	log    *slog.Logger
	events *eventQueue
	nextID atomic.Uint32
	wg     sync.WaitGroup // connection loops

	mu        sync.Mutex
	state     State
	closed    bool
	running   bool               // a connection loop is on
	cancel    context.CancelFunc // stops the loop
	conn      *conn              // set while Connected
	changed   chan struct{}      // closed and replaced on every state change, for waiters
	kick      chan struct{}      // 1-buffered: the session loop's timers changed (subscribe retries, refreshes)
	last      error              // why the last loop stopped (a *DisconnectError)
	subs      map[string]*Subscription
	transport string     // the transport that opened last (Transport)
	made      uint64     // subscriptions made so far, for their order
	subRnd    *rand.Rand // jitter of subscribe retries and refreshes
	rnd       *rand.Rand // jitter of reconnects, used by the loop only
}

// New returns a client for the server at url: a base URL
// (https://herald.example.com, with or without a path prefix) or the full
// WebSocket endpoint (wss://herald.example.com/connection/websocket).
// http and https mean ws and wss. An invalid URL is reported by Connect.
func New(url string, opts *Options) *Client {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.setDefaults()
	c := &Client{
		opts:    o,
		log:     o.Logger,
		events:  newEventQueue(),
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		subs:    make(map[string]*Subscription),
		subRnd:  rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		rnd:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	c.url, c.urlErr = endpointURL(url)
	for _, t := range o.Transports {
		if t != TransportWebSocket && t != TransportSSE && t != TransportHTTPStream {
			c.urlErr = fmt.Errorf("herald: transport %q: use %s, %s or %s", t, TransportWebSocket, TransportSSE, TransportHTTPStream)
		}
	}
	return c
}

// State returns the connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Connect starts the connection loop, unless it runs already, and waits
// until the client is Connected (nil), stops for good (a *DisconnectError
// with the server's code), is closed (ErrClosed), or ctx ends (ctx.Err()).
// The loop outlives ctx: it reconnects with backoff until Close or a code
// that forbids reconnecting. After such a code, Connect starts over.
func (c *Client) Connect(ctx context.Context) error {
	if c.urlErr != nil {
		return c.urlErr
	}
	if c.opts.Data != nil && !json.Valid(c.opts.Data) {
		return errors.New("herald: Options.Data is not valid JSON")
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !c.running {
		c.running, c.last = true, nil
		loopCtx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		c.setState(Connecting)
		emit(c, c.opts.OnConnecting, ConnectingEvent{Code: CodeConnectCalled, Reason: codeReasons[CodeConnectCalled]})
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.run(loopCtx, cancel)
		}()
	}
	c.mu.Unlock()
	return c.wait(ctx, func() (bool, error) {
		switch {
		case c.state == Connected:
			return true, nil
		case !c.running && c.last != nil:
			return true, c.last
		}
		return false, nil
	})
}

// Close stops the connection loop, closes the connection with a normal
// close, ends every subscription (OnUnsubscribed with CodeClientClosed),
// runs the events still queued and waits for every goroutine of the
// client. It must not be called from an event callback, which it would
// wait for. Later calls return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	if c.cancel != nil {
		c.cancel()
	}
	c.notify()
	c.mu.Unlock()
	c.wg.Wait()

	c.mu.Lock()
	if c.state != Disconnected {
		c.setState(Disconnected)
		emit(c, c.opts.OnDisconnected, DisconnectedEvent{Code: CodeClientClosed, Reason: codeReasons[CodeClientClosed]})
	}
	for _, sub := range c.subs {
		sub.end(CodeClientClosed, codeReasons[CodeClientClosed], nil)
	}
	c.mu.Unlock()
	c.events.close()
	return nil
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// wait blocks until done reports true (done runs with mu held), the client
// is closed, or ctx ends.
func (c *Client) wait(ctx context.Context, done func() (bool, error)) error {
	for {
		c.mu.Lock()
		if ok, err := done(); ok {
			c.mu.Unlock()
			return err
		}
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitConnected returns the connection once the client is Connected.
func (c *Client) waitConnected(ctx context.Context) (*conn, error) {
	var cn *conn
	err := c.wait(ctx, func() (bool, error) {
		// A connection whose reader has ended is still c.conn until the
		// loop notices; waiting for that change avoids spinning on it.
		cn = c.conn
		return c.state == Connected && !cn.isEnded(), nil
	})
	return cn, err
}

// setState changes the state and wakes the waiters; mu must be held.
func (c *Client) setState(s State) {
	c.state = s
	c.notify()
}

// notify wakes everything waiting in wait; mu must be held.
func (c *Client) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// emit queues an event for fn, if the application set one. Called with mu
// held, so that events come out in the order the state changed.
func emit[E any](c *Client, fn func(E), e E) {
	if fn != nil {
		c.events.push(func() { fn(e) })
	}
}

func (c *Client) emitError(err error) {
	c.log.Debug("error", "err", err)
	emit(c, c.opts.OnError, err)
}

// newID returns the next command id: 1 to 2^32-1, wrapping around.
func (c *Client) newID() uint32 {
	for {
		if id := c.nextID.Add(1); id != 0 {
			return id
		}
	}
}

// Transport names the transport of the current or last connection
// ("websocket", "sse", "http_stream"), "" before the first.
func (c *Client) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

func (c *Client) lastTransport() string { return c.Transport() }

func (c *Client) setTransport(t string) {
	c.mu.Lock()
	c.transport = t
	c.mu.Unlock()
}
