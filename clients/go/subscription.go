package client

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// SubState is a subscription's state.
type SubState int

const (
	// Unsubscribed: new, or ended by Unsubscribe, the server or Close.
	Unsubscribed SubState = iota
	// Subscribing: wanted, waiting for the connection or the subscribe
	// reply (again after every reconnect).
	Subscribing
	// Subscribed: the server confirmed; publications flow.
	Subscribed
)

func (s SubState) String() string {
	switch s {
	case Unsubscribed:
		return "unsubscribed"
	case Subscribing:
		return "subscribing"
	case Subscribed:
		return "subscribed"
	}
	return "unknown"
}

// Subscription is the client's subscription to one channel. Once Subscribe
// is called it stays wanted, through reconnects, until Unsubscribe, a
// refusal by the server or Close; after each reconnect it recovers what it
// missed where the channel keeps history.
type Subscription struct {
	c       *Client
	channel string
	opts    SubscriptionOptions
	order   uint64 // when it was made, so resubscribes go in a stable order

	// Guarded by c.mu.
	state       SubState
	wanted      bool   // subscribe again after every reconnect
	gen         uint64 // bumped by every subscribe sent and every end: older replies are stale
	recoverable bool
	http        bool     // the last reply said history_http: recover through GET /history/ first
	positioned  bool     // pos is a place in the channel's stream
	pos         Position // the last publication handled (or the subscribe position)
	err         error    // why the server refused the last subscribe
	attempt     int      // temporary refusals in a row
	retryAt     time.Time
	renew       renewal // the subscription token's refresh
}

// NewSubscription returns the client's subscription to channel, in state
// Unsubscribed; call Subscribe on it. A client has at most one per channel
// (ErrDuplicateSubscription); RemoveSubscription frees the channel.
func (c *Client) NewSubscription(channel string, opts *SubscriptionOptions) (*Subscription, error) {
	if channel == "" {
		return nil, errors.New("herald: empty channel name")
	}
	s := &Subscription{c: c, channel: channel}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Since != nil {
		s.pos, s.positioned, s.recoverable = *s.opts.Since, true, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.subs[channel] != nil {
		return nil, ErrDuplicateSubscription
	}
	c.made++
	s.order = c.made
	c.subs[channel] = s
	return s, nil
}

// Subscription returns the client's subscription to channel, or nil.
func (c *Client) Subscription(channel string) *Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[channel]
}

// RemoveSubscription unsubscribes sub and forgets it, so that the channel
// may get a new Subscription.
func (c *Client) RemoveSubscription(ctx context.Context, sub *Subscription) error {
	err := sub.Unsubscribe(ctx)
	c.mu.Lock()
	if c.subs[sub.channel] == sub {
		delete(c.subs, sub.channel)
	}
	c.mu.Unlock()
	return err
}

// Channel returns the subscription's channel.
func (s *Subscription) Channel() string { return s.channel }

// State returns the subscription's state.
func (s *Subscription) State() SubState {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.state
}

// Position returns the last position handled in a channel with history,
// and false before there is one. An application that stores it can resume
// from it later with SubscriptionOptions.Since.
func (s *Subscription) Position() (Position, bool) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.pos, s.positioned
}

// Subscribe makes the subscription wanted and waits until the server
// confirms it (nil), refuses it (an *Error, and the subscription ends), or
// ctx ends. While the client is not connected it waits for the connection,
// so before Connect call it from another goroutine. If ctx ends first the
// subscription keeps trying; Unsubscribe stops it.
func (s *Subscription) Subscribe(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.subs[s.channel] != s {
		c.mu.Unlock()
		return errors.New("herald: subscription removed from its client")
	}
	if !s.wanted {
		s.wanted, s.err, s.attempt, s.retryAt = true, nil, 0, time.Time{}
		// A subscription the server made (a sub push) is confirmed already.
		if s.state != Subscribed {
			s.setState(Subscribing)
			emit(c, s.opts.OnSubscribing, SubscribingEvent{Code: CodeSubscribeCalled, Reason: codeReasons[CodeSubscribeCalled]})
			if c.state == Connected {
				c.sendSubscribes(c.conn, []*Subscription{s})
			}
		}
	}
	c.mu.Unlock()
	return c.wait(ctx, func() (bool, error) {
		switch {
		case s.state == Subscribed:
			return true, nil
		case !s.wanted && s.err != nil:
			return true, s.err
		case !s.wanted:
			return true, ErrUnsubscribed
		}
		return false, nil
	})
}

// Unsubscribe ends the subscription at once (OnUnsubscribed) and, while
// connected, tells the server, waiting for its reply until ctx ends.
// OnUnsubscribed is the subscription's last event: no publication follows
// it, though those queued before it may still be running.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !s.wanted && s.state == Unsubscribed {
		c.mu.Unlock()
		return nil
	}
	s.end(CodeUnsubscribeCalled, codeReasons[CodeUnsubscribeCalled], nil)
	if c.state != Connected {
		// The server forgot the subscription with the connection.
		c.mu.Unlock()
		return nil
	}
	cn := c.conn
	res := make(chan *protocol.Reply, 1)
	cmd := &protocol.Command{ID: c.newID(), Unsubscribe: &protocol.UnsubscribeRequest{Channel: s.channel}}
	sent, err := cn.send([]*protocol.Command{cmd}, []replyHandler{func(r *protocol.Reply, _ error) { res <- r }})
	c.mu.Unlock()
	if !sent || err != nil {
		return err
	}
	select {
	case r := <-res:
		if r != nil && r.Error != nil {
			return replyError(r.Error)
		}
		return nil // a lost connection took the subscription with it
	case <-ctx.Done():
		cn.forget(cmd.ID)
		return ctx.Err()
	}
}

// setState changes the state and wakes waiters; c.mu must be held.
func (s *Subscription) setState(st SubState) {
	s.state = st
	s.c.notify()
}

// end makes the subscription unwanted and Unsubscribed; c.mu must be held.
func (s *Subscription) end(code uint32, reason string, err error) {
	s.wanted, s.err, s.retryAt, s.renew = false, err, time.Time{}, renewal{}
	s.gen++
	s.positioned = false
	if s.state != Unsubscribed {
		s.setState(Unsubscribed)
		emit(s.c, s.opts.OnUnsubscribed, UnsubscribedEvent{Code: code, Reason: reason})
	} else {
		s.c.notify()
	}
}

// subscribeCommand returns the subscribe command, recovering from the
// subscription's position when it has one (after early, what GET
// /history/ gave), and the handler of its reply; c.mu must be held.
func (s *Subscription) subscribeCommand(token string, early []Publication) (*protocol.Command, replyHandler) {
	s.gen++
	gen := s.gen
	req := &protocol.SubscribeRequest{Channel: s.channel, Token: token}
	recovering := s.positioned && s.recoverable
	if recovering {
		req.Recover, req.Offset, req.Epoch = true, s.pos.Offset, s.pos.Epoch
		if len(early) > 0 {
			req.Offset = early[len(early)-1].Offset
		}
	}
	cmd := &protocol.Command{ID: s.c.newID(), Subscribe: req}
	return cmd, func(r *protocol.Reply, err error) {
		s.c.mu.Lock()
		defer s.c.mu.Unlock()
		if err != nil || gen != s.gen || !s.wanted || s.state != Subscribing {
			// Stale, or the connection ended: the next one subscribes again.
			return
		}
		s.subscribed(r, recovering, early)
	}
}

// subscribed handles a subscribe reply, and early, what GET /history/ gave
// before it; c.mu must be held.
func (s *Subscription) subscribed(r *protocol.Reply, recovering bool, early []Publication) {
	c := s.c
	if r.Error != nil {
		e := replyError(r.Error)
		// 118: GetToken gave a token that had expired already; the next
		// may not have, but a second in a row ends the subscription.
		expired := e.Code == uint32(herald.ErrTokenExpired) && s.opts.GetToken != nil && s.attempt == 0
		if e.Temporary || expired {
			s.retryLater(&SubscribeError{Channel: s.channel, Err: e})
			return
		}
		s.end(e.Code, e.Message, e)
		return
	}
	res := r.Subscribe
	if res == nil {
		res = &protocol.SubscribeResult{}
	}
	s.attempt = 0
	s.recoverable, s.http = res.Recoverable, res.HistoryHTTP
	s.renew = renewal{}
	if s.opts.GetToken != nil {
		s.renew.schedule(c.subRnd, res.Expires, res.TTL, c.opts.second)
		c.wake()
	}
	s.setState(Subscribed)
	// The pages read over HTTP, then the reply's publications, come
	// before any later push: they are handled here, on the reader, before
	// it reads the next message. Pages of another epoch are another
	// history: the reply says not recovered.
	pubs := make([]Publication, 0, len(early)+len(res.Publications))
	last := s.pos.Offset
	if s.positioned && res.Epoch == s.pos.Epoch {
		for _, p := range early {
			if p.Offset > last {
				pubs = append(pubs, p)
				last = p.Offset
			}
		}
	}
	for i := range res.Publications {
		p := &res.Publications[i]
		if s.positioned && p.Offset != 0 && p.Offset <= last && res.Epoch == s.pos.Epoch {
			continue // already handled: never deliver one twice
		}
		pubs = append(pubs, Publication{Channel: s.channel, Offset: p.Offset, Epoch: or(p.Epoch, res.Epoch), Data: p.Data})
	}
	emit(c, s.opts.OnSubscribed, SubscribedEvent{
		Recoverable:   res.Recoverable,
		WasRecovering: recovering,
		Recovered:     recovering && res.Recovered,
		Publications:  len(pubs),
		Offset:        res.Offset,
		Epoch:         res.Epoch,
	})
	for _, p := range pubs {
		emit(c, s.opts.OnPublication, p)
	}
	s.positioned = res.Recoverable
	s.pos = Position{Offset: res.Offset, Epoch: res.Epoch}
}

// retryLater schedules another subscribe on this connection after a
// failure that may pass, with backoff, and reports err; c.mu must be held.
func (s *Subscription) retryLater(err error) {
	c := s.c
	s.retryAt = time.Now().Add(backoff(c.subRnd, s.attempt, c.opts.MinReconnectDelay, c.opts.MaxReconnectDelay))
	s.attempt++
	c.emitError(err)
	c.wake()
}

// publication handles a pub push: it drops duplicates, reports gaps and
// advances the position; c.mu must be held.
func (s *Subscription) publication(p *protocol.PubPush) {
	if s.state != Subscribed {
		return // the reply to an unsubscribe or a new subscribe is on its way
	}
	epoch := p.Epoch
	if p.Offset != 0 {
		epoch = or(epoch, s.pos.Epoch)
		switch {
		case !s.positioned:
		case epoch == s.pos.Epoch && p.Offset <= s.pos.Offset:
			s.c.log.Debug("duplicate publication dropped", "channel", s.channel, "offset", p.Offset, "at", s.pos.Offset)
			return
		case epoch == s.pos.Epoch && p.Offset > s.pos.Offset+1:
			s.c.emitError(&GapError{Channel: s.channel, Expected: s.pos.Offset + 1, Got: p.Offset, Epoch: epoch})
		case epoch != s.pos.Epoch && p.Offset > 1:
			// The history was lost and started over (it expired, say).
			s.c.emitError(&GapError{Channel: s.channel, Expected: 1, Got: p.Offset, Epoch: epoch})
		}
		s.pos, s.positioned = Position{Offset: p.Offset, Epoch: epoch}, true
	}
	emit(s.c, s.opts.OnPublication, Publication{Channel: s.channel, Offset: p.Offset, Epoch: epoch, Data: p.Data})
}

// handlePush handles a push about one channel; it runs on the reader.
func (c *Client) handlePush(p *protocol.Push) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[p.Channel]
	switch {
	case p.Pub != nil && s != nil:
		s.publication(p.Pub)
	case p.Pub != nil:
		emit(c, c.opts.OnPublication, Publication{Channel: p.Channel, Offset: p.Pub.Offset, Epoch: p.Pub.Epoch, Data: p.Pub.Data})
	case s == nil:
		// Join, leave, sub or unsub of a channel without a Subscription.
	case p.Join != nil && s.state == Subscribed:
		emit(c, s.opts.OnJoin, clientInfo(p.Join))
	case p.Leave != nil && s.state == Subscribed:
		emit(c, s.opts.OnLeave, clientInfo(p.Leave))
	case p.Sub != nil && s.state != Subscribed:
		// The application subscribed the connection through the server
		// API. Such a subscription lasts as long as the connection.
		s.gen++
		s.renew = renewal{}
		s.recoverable, s.positioned = p.Sub.Recoverable, p.Sub.Recoverable
		s.pos = Position{Offset: p.Sub.Offset, Epoch: p.Sub.Epoch}
		s.setState(Subscribed)
		emit(c, s.opts.OnSubscribed, SubscribedEvent{Recoverable: p.Sub.Recoverable, Offset: p.Sub.Offset, Epoch: p.Sub.Epoch})
	case p.Unsub != nil:
		s.end(CodeServerUnsubscribed, codeReasons[CodeServerUnsubscribed], nil)
	}
}

// resubscribe sends a subscribe for every wanted subscription; c.mu must
// be held.
func (c *Client) resubscribe(cn *conn) {
	var subs []*Subscription
	for _, s := range c.subs {
		if s.wanted {
			s.retryAt = time.Time{}
			subs = append(subs, s)
		}
	}
	// In the order they were made, as every client does (the scenarios
	// check it), so that a reconnect reads the same in every log.
	slices.SortFunc(subs, func(a, b *Subscription) int { return cmp.Compare(a.order, b.order) })
	c.sendSubscribes(cn, subs)
}

// sendSubscribes sends a subscribe for each of subs on cn: together, so
// that they share WebSocket messages, for those whose token is at hand,
// and from a task of the connection for those that get theirs from
// GetToken, which may block, or first read what they missed from GET
// /history/; c.mu must be held.
func (c *Client) sendSubscribes(cn *conn, subs []*Subscription) {
	var cmds []*protocol.Command
	var hs []replyHandler
	for _, s := range subs {
		// Where the last reply said history_http, what was missed may be
		// read from an HTTP cache rather than replayed by the server.
		var from *Position
		if s.http && s.positioned && s.recoverable && s.pos.Epoch != "" {
			from = &Position{Offset: s.pos.Offset, Epoch: s.pos.Epoch}
		}
		if s.opts.GetToken == nil && from == nil {
			cmd, h := s.subscribeCommand(s.opts.Token, nil)
			cmds = append(cmds, cmd)
			hs = append(hs, h)
			continue
		}
		s.gen++ // the reply to an earlier subscribe is stale from now on
		gen := s.gen
		cn.goTask(func(ctx context.Context) { c.subscribeLater(ctx, cn, s, gen, from) })
	}
	if len(cmds) > 0 {
		cn.send(cmds, hs)
	}
}

// subscribeLater gets a token from the subscription's GetToken, if it has
// one, reads the pages after from, if set, and sends the subscribe, unless
// the subscription changed meanwhile (gen).
func (c *Client) subscribeLater(ctx context.Context, cn *conn, s *Subscription, gen uint64, from *Position) {
	token, err := s.opts.Token, error(nil)
	if s.opts.GetToken != nil {
		token, err = s.opts.GetToken(ctx, s.channel)
	}
	var early []Publication
	if err == nil && from != nil {
		early = c.catchUp(ctx, s.channel, *from)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != s.gen || !s.wanted || s.state != Subscribing || ctx.Err() != nil {
		return
	}
	if err != nil {
		s.retryLater(&TokenError{Channel: s.channel, Err: err})
		return
	}
	cmd, h := s.subscribeCommand(token, early)
	cn.send([]*protocol.Command{cmd}, []replyHandler{h})
}

// subsLost moves the subscriptions of a connection that ended back to
// Subscribing, to be subscribed again on the next; c.mu must be held.
func (c *Client) subsLost(end ending) {
	for _, s := range c.subs {
		s.retryAt, s.renew = time.Time{}, renewal{}
		switch {
		case s.wanted && s.state == Subscribed:
			s.setState(Subscribing)
			emit(c, s.opts.OnSubscribing, SubscribingEvent{Code: end.code, Reason: end.reason})
		case !s.wanted && s.state == Subscribed:
			// Made by the server (a sub push): gone with the connection.
			s.end(end.code, end.reason, nil)
		}
	}
}

// retrySubscribes subscribes again the subscriptions whose retry is due.
func (c *Client) retrySubscribes(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	var subs []*Subscription
	for _, s := range c.subs {
		if s.retryAt.IsZero() || s.retryAt.After(now) {
			continue
		}
		s.retryAt = time.Time{}
		if s.wanted && s.state == Subscribing {
			subs = append(subs, s)
		}
	}
	c.sendSubscribes(cn, subs)
}

func clientInfo(ci *protocol.ClientInfo) ClientInfo {
	return ClientInfo{Client: ci.Client, User: ci.User, Info: ci.Info}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
