package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// backoff is the wait before reconnect attempt n (0 for the first after a
// loss): full jitter, a random duration in [0, min(hi, lo*2^n)), so that
// the clients of a failed node come back spread out rather than together.
func backoff(r *rand.Rand, n int, lo, hi time.Duration) time.Duration {
	ceiling := hi
	if n < 63 && lo <= hi>>n {
		ceiling = lo << n
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(ceiling)))
}

// run is the connection loop: connect, serve the connection until it ends,
// wait out the backoff, again, until ctx ends (Close) or the server
// forbids reconnecting.
func (c *Client) run(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	attempt := 0
	for {
		end, connected := c.session(ctx)
		if connected {
			attempt = 0
		}
		c.mu.Lock()
		c.conn = nil
		if end.code != 0 {
			c.lastEnd = &protocol.LastDisconnect{Code: uint16(end.code), Reason: end.reason}
		}
		switch {
		case ctx.Err() != nil:
			// Close reports the end once every loop has stopped.
			c.running = false
			c.notify()
			c.mu.Unlock()
			return
		case !end.reconnect:
			c.running = false
			c.last = &DisconnectError{Code: end.code, Reason: end.reason}
			c.setState(Disconnected)
			emit(c, c.opts.OnDisconnected, DisconnectedEvent{Code: end.code, Reason: end.reason})
			c.subsLost(end)
			c.mu.Unlock()
			return
		case connected:
			c.setState(Connecting)
			emit(c, c.opts.OnConnecting, ConnectingEvent{Code: end.code, Reason: end.reason})
			c.subsLost(end)
		}
		c.mu.Unlock()

		d := backoff(c.rnd, attempt, c.opts.MinReconnectDelay, c.opts.MaxReconnectDelay)
		if end.retryAfter > 0 {
			// The server said when to come back: no sooner, and spread
			// by up to the minimum delay so the ones told the same second
			// do not all arrive together.
			d = max(d, end.retryAfter+time.Duration(c.rnd.Int64N(int64(c.opts.MinReconnectDelay))))
		}
		attempt++
		c.log.Debug("reconnecting", "in", d, "attempt", attempt, "code", end.code, "reason", end.reason)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// session makes one connection attempt and, once connected, serves the
// connection until it ends. It says why it ended and whether the server
// answered connect.
func (c *Client) session(ctx context.Context) (ending, bool) {
	failed := ending{code: CodeTransportClosed, reason: codeReasons[CodeTransportClosed], reconnect: true}
	token, ok := c.token(ctx)
	if !ok {
		return failed, false
	}
	cn, err := dial(ctx, c)
	if err != nil {
		if ctx.Err() == nil {
			c.emitError(err)
		}
		var de *dialError
		if errors.As(err, &de) {
			failed.retryAfter = de.retryAfter
		}
		return failed, false
	}

	var r *protocol.Reply
	for retried := false; ; retried = true {
		r, err = c.sendConnect(ctx, cn, token)
		switch {
		case ctx.Err() != nil:
			cn.shutdown(websocket.StatusNormalClosure)
			return ending{}, false
		case err != nil: // the connection ended first; the reader knows why
			cn.shutdown(0)
			c.emitError(&ConnectError{Code: cn.end.code, Reason: cn.end.reason})
			return cn.end, false
		}
		if r.Error == nil || r.Error.Code != uint32(herald.ErrTokenExpired) || retried {
			break
		}
		// The connection stays open after 118: connect again on it with
		// a new token, once, rather than count a failed attempt. Without
		// GetToken there is no other token: stop.
		e := replyError(r.Error)
		c.emitError(fmt.Errorf("herald: connect: %w", e))
		if c.opts.GetToken == nil {
			cn.shutdown(websocket.StatusNormalClosure)
			return ending{code: e.Code, reason: e.Message}, false
		}
		if token, ok = c.token(ctx); !ok {
			cn.shutdown(websocket.StatusNormalClosure)
			return failed, false
		}
	}
	switch {
	case r.Error != nil:
		cn.shutdown(websocket.StatusNormalClosure)
		c.emitError(fmt.Errorf("herald: connect: %w", replyError(r.Error)))
		return failed, false
	case r.Connect == nil:
		cn.shutdown(websocket.StatusProtocolError)
		c.emitError(fmt.Errorf("herald: connect: a reply without a connect result"))
		return failed, false
	}

	res := r.Connect
	c.mu.Lock()
	c.conn = cn
	// Without GetToken, only credentials from the application's connect
	// hook (no Token) can be refreshed: an empty refresh asks its refresh
	// hook.
	if res.Expires && (c.opts.GetToken != nil || c.opts.Token == "") {
		cn.renew.schedule(c.subRnd, true, res.TTL, c.opts.second)
	} else if res.Expires {
		c.log.Debug("the credentials expire and there is no GetToken to refresh them", "ttl", res.TTL)
	}
	c.setState(Connected)
	emit(c, c.opts.OnConnected, ConnectedEvent{
		ClientID:      res.Client,
		User:          res.User,
		ServerVersion: res.Version,
		PingInterval:  time.Duration(res.Ping) * c.opts.second,
	})
	c.resubscribe(cn)
	c.mu.Unlock()
	return c.serve(ctx, cn), true
}

// token returns the token for a connect: GetToken's, or Options.Token.
func (c *Client) token(ctx context.Context) (string, bool) {
	if c.opts.GetToken == nil {
		return c.opts.Token, true
	}
	t, err := c.opts.GetToken(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.emitError(&TokenError{Err: err})
		}
		return "", false
	}
	return t, true
}

// sendConnect sends connect on cn and waits for its reply. An error means
// that the connection ended first (ErrConnectionLost) or ctx did.
func (c *Client) sendConnect(ctx context.Context, cn *conn, token string) (*protocol.Reply, error) {
	type result struct {
		r   *protocol.Reply
		err error
	}
	res := make(chan result, 1)
	c.mu.Lock()
	last := c.lastEnd
	c.mu.Unlock()
	connect := &protocol.Command{ID: c.newID(), Connect: &protocol.ConnectRequest{
		Token: token, Name: c.opts.Name, Version: c.opts.Version, Data: c.opts.Data, LastDisconnect: last,
	}}
	// The handler runs on the reader, so the ping watch starts before the
	// reader's next read.
	sent, err := cn.send([]*protocol.Command{connect}, []replyHandler{func(r *protocol.Reply, err error) {
		if err == nil && r.Connect != nil {
			// A server that announces no ping cannot be watched: wait
			// for its messages as long as it takes.
			cn.readTimeout, cn.timeoutCode = 0, CodeNoPing
			if r.Connect.Ping > 0 {
				cn.readTimeout = time.Duration(r.Connect.Ping)*c.opts.second + c.opts.PingGrace
			}
		}
		res <- result{r, err}
	}})
	switch {
	case err != nil: // cannot happen: Connect checked Data
		return nil, err
	case !sent:
		return nil, ErrConnectionLost
	}
	select {
	case r := <-res:
		return r.r, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// serve runs the timers of a connected connection (subscribe retries and
// refreshes) until it ends, and says why it did.
func (c *Client) serve(ctx context.Context, cn *conn) ending {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if at := c.nextTimer(cn); !at.IsZero() {
			timer.Reset(time.Until(at))
		}
		select {
		case <-cn.done:
			cn.shutdown(0)
			return cn.end
		case <-ctx.Done():
			cn.shutdown(websocket.StatusNormalClosure)
			return ending{}
		case <-c.kick:
		case <-timer.C:
			c.retrySubscribes(cn)
			c.refreshDue(cn)
		}
		timer.Stop()
	}
}
