package client

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Credentials that expire (the connect reply's or a subscribe reply's
// "expires":true with a ttl) are refreshed before they do, on the same
// connection, with a token from GetToken: refresh for the connection,
// sub_refresh for a subscription. The session loop keeps the timers; the
// refresh itself runs as a task of the connection, because GetToken may
// block. See docs/client-spec.md, "Token refresh".

// renewal schedules the refresh of credentials that expire. Guarded by the
// client's mu.
type renewal struct {
	at      time.Time // when to refresh; zero: not due (nothing expires, a refresh is on its way, or it gave up)
	expires time.Time // when the credentials expire: no retry is scheduled after
	attempt int       // failed refreshes in a row
}

// refreshDelay is how long after a reply announcing ttl to refresh: at a
// random point in 80-90% of ttl, so that the clients connected together do
// not all refresh together; at least a second before expiry, for the
// round trip and GetToken; and never before half of ttl, so that a token
// of a second or two is not refreshed in a loop.
func refreshDelay(r *rand.Rand, ttl, second time.Duration) time.Duration {
	d := time.Duration(float64(ttl) * (0.8 + 0.1*r.Float64()))
	d = min(d, ttl-second)
	return max(d, ttl/2)
}

// schedule sets the next refresh from a reply's expires and ttl (seconds).
func (rn *renewal) schedule(r *rand.Rand, expires bool, ttlSec uint32, second time.Duration) {
	*rn = renewal{}
	if !expires {
		return
	}
	ttl := time.Duration(max(ttlSec, 1)) * second
	now := time.Now()
	rn.expires = now.Add(ttl)
	rn.at = now.Add(refreshDelay(r, ttl, second))
}

// retry schedules another refresh after a temporary failure, with backoff
// (attempt n waits at most lo*2^n, and at most half the time left), and
// reports false when none fits before the credentials expire.
func (rn *renewal) retry(r *rand.Rand, lo, hi time.Duration) bool {
	now := time.Now()
	left := rn.expires.Sub(now)
	d := max(min(backoff(r, rn.attempt, lo, hi), left/2), lo)
	rn.attempt++
	if d >= left {
		rn.at = time.Time{}
		return false
	}
	rn.at = now.Add(d)
	return true
}

// retryable says whether a refused refresh may succeed if sent again: a
// temporary error, or 118 (GetToken gave a token that had expired already:
// the next one may not have).
func retryable(e *Error) bool {
	return e.Temporary || e.Code == uint32(herald.ErrTokenExpired)
}

// wake has the session loop look at its timers again.
func (c *Client) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// nextTimer returns when the session loop has something to do next: a
// subscribe retry or a refresh (zero: nothing).
func (c *Client) nextTimer(cn *conn) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := cn.renew.at
	earlier := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	for _, s := range c.subs {
		earlier(s.retryAt)
		earlier(s.renew.at)
	}
	return at
}

// refreshDue starts the refreshes that are due on cn.
func (c *Client) refreshDue(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if at := cn.renew.at; !at.IsZero() && !at.After(now) {
		cn.renew.at = time.Time{}
		cn.goTask(func(ctx context.Context) { c.refreshConn(ctx, cn) })
	}
	for _, s := range c.subs {
		if at := s.renew.at; at.IsZero() || at.After(now) {
			continue
		}
		s.renew.at = time.Time{}
		if s.state == Subscribed {
			gen := s.gen
			cn.goTask(func(ctx context.Context) { c.refreshSub(ctx, cn, s, gen) })
		}
	}
}

// refreshConn sends refresh with a new token, or without GetToken an empty
// one (the server asks the application's refresh hook). A failure is
// reported and left to the server: it closes the connection with 4005
// expired, and the reconnect asks GetToken again.
func (c *Client) refreshConn(ctx context.Context, cn *conn) {
	var token string
	if c.opts.GetToken != nil {
		var err error
		if token, err = c.opts.GetToken(ctx); err != nil {
			if ctx.Err() == nil {
				c.emitError(&TokenError{Err: err})
			}
			return
		}
	}
	cmd := &protocol.Command{ID: c.newID(), Refresh: &protocol.RefreshRequest{Token: token}}
	cn.send([]*protocol.Command{cmd}, []replyHandler{func(r *protocol.Reply, err error) {
		if err != nil {
			return // the connection ended: the next connect has a new token
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.Error != nil {
			e := replyError(r.Error)
			again := retryable(e) && cn.renew.retry(c.subRnd, c.opts.MinReconnectDelay, c.opts.MaxReconnectDelay)
			c.emitError(&RefreshError{Err: e, Retrying: again})
			c.wake()
			return
		}
		res := r.Refresh
		if res == nil {
			res = &protocol.RefreshResult{}
		}
		cn.renew.schedule(c.subRnd, res.Expires, res.TTL, c.opts.second)
		c.wake()
	}})
}

// refreshSub sends sub_refresh with a new subscription token, unless the
// subscription changed meanwhile (gen). A failure is reported and left to
// the server, which ends the subscription with an unsub push once the
// token expired.
func (c *Client) refreshSub(ctx context.Context, cn *conn, s *Subscription, gen uint64) {
	token, err := s.opts.GetToken(ctx, s.channel)
	if err != nil {
		if ctx.Err() == nil {
			c.emitError(&TokenError{Channel: s.channel, Err: err})
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != s.gen || s.state != Subscribed {
		return
	}
	cmd := &protocol.Command{ID: c.newID(), SubRefresh: &protocol.SubRefreshRequest{Channel: s.channel, Token: token}}
	cn.send([]*protocol.Command{cmd}, []replyHandler{func(r *protocol.Reply, err error) {
		if err != nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if gen != s.gen || s.state != Subscribed {
			return
		}
		if r.Error != nil {
			e := replyError(r.Error)
			again := retryable(e) && s.renew.retry(c.subRnd, c.opts.MinReconnectDelay, c.opts.MaxReconnectDelay)
			c.emitError(&RefreshError{Channel: s.channel, Err: e, Retrying: again})
			c.wake()
			return
		}
		res := r.SubRefresh
		if res == nil {
			res = &protocol.SubRefreshResult{}
		}
		s.renew.schedule(c.subRnd, res.Expires, res.TTL, c.opts.second)
		c.wake()
	}})
}
