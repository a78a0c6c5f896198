package hub

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

func (s *Session) subscribe(id uint32, req *protocol.SubscribeRequest) error {
	j, err := s.join(context.Background(), req.Channel, req, id)
	if err != nil {
		s.event(refusedEvent("subscribe_refused", req.Channel, err))
		return err
	}
	j.finish(s)
	return nil
}

// joined is a subscription just made.
type joined struct {
	channel string
	id      uint32        // the subscribe command's id; 0 gets no reply
	server  bool          // made by the server API: announced by a sub push
	sub     *subscription // non-nil while recovering
	result  protocol.SubscribeResult
	top     uint64 // held publications up to this offset are in the reply
}

// message is the reply to send for the subscription, or the sub push for
// one the server made; nil for a command without an id.
func (j *joined) message() []byte {
	switch {
	case j.server:
		return protocol.EncodePush(&protocol.Push{Channel: j.channel, Sub: &protocol.SubPush{
			Offset: j.result.Offset, Epoch: j.result.Epoch, Recoverable: j.result.Recoverable}})
	case j.id != 0:
		return protocol.EncodeReply(&protocol.Reply{ID: j.id, Subscribe: &j.result})
	}
	return nil
}

// finish sends the reply of a subscription that held live publications
// while it read its position (a channel with history), then those held,
// and turns live delivery on. In a channel without history register has
// queued the reply already.
func (j *joined) finish(s *Session) {
	if j.sub == nil {
		return
	}
	j.sub.finish(s, j.message(), j.top, j.result.Epoch)
}

// join subscribes s to a channel: it checks the name and the limits,
// registers s, recovers what req asks for, and adds s to presence. req is
// nil for a subscription the server API makes.
func (s *Session) join(ctx context.Context, channel string, req *protocol.SubscribeRequest, id uint32) (*joined, error) {
	h := s.hub
	ns, err := h.cfg.Namespaces.Resolve(channel)
	if err != nil {
		return nil, err
	}
	j := &joined{channel: channel, id: id, server: req == nil}
	var grant SubscribeGrant
	if req != nil {
		// Subscriptions the server makes are granted already; a client's
		// go through the namespace's access rules.
		if grant, err = s.authorizeSubscribe(ctx, channel, ns, req.Token); err != nil {
			return nil, err
		}
		j.result.Expires, j.result.TTL = ttl(grant.ExpiresAt, time.Now())
	}
	s.mu.Lock()
	switch {
	case s.state == stateClosed:
		s.mu.Unlock()
		return j, nil
	case slices.Contains(s.channels, channel):
		s.mu.Unlock()
		return nil, herald.Errorf(herald.ErrAlreadySubscribed, "already subscribed to %q", channel)
	case len(s.channels) >= h.cfg.ChannelLimit:
		s.mu.Unlock()
		return nil, herald.Errorf(herald.ErrLimitExceeded, "a connection may subscribe to at most %d channels (client.channel_limit)", h.cfg.ChannelLimit)
	}
	// Claim the channel before registering so that a concurrent close
	// (which walks s.channels) unregisters it too.
	s.channels = append(s.channels, channel)
	s.mu.Unlock()

	undo := func() {
		s.mu.Lock()
		s.channels = removeChannel(s.channels, channel)
		s.mu.Unlock()
		h.leave(s, channel)
	}
	if err := s.register(ctx, ns, j, req); err != nil {
		undo()
		return nil, err
	}
	if err := h.enter(ctx, s, channel, ns, grant.Info); err != nil {
		undo()
		return nil, err
	}
	if !grant.ExpiresAt.IsZero() {
		s.setSubExpiry(channel, grant.ExpiresAt)
	}
	if s.isClosed() {
		// The session ended while registering; make sure nothing stays behind.
		h.leave(s, channel)
	}
	h.retrace(s)
	s.event(subscribeEvent(j, req))
	return j, nil
}

// register adds s to the channel's subscribers. A channel with history
// tells its position, read while live publications are held, to be
// merged by finish; with req.Recover, the missed publications too.
func (s *Session) register(ctx context.Context, ns herald.NamespaceOptions, j *joined, req *protocol.SubscribeRequest) error {
	h := s.hub
	if ns.HistorySize == 0 {
		// Nothing to recover from: recovered is false, so the app refetches.
		return h.register(ctx, s, j.channel, nil, j.message())
	}
	j.result.Recoverable = true
	j.result.HistoryHTTP = openOverHTTP(j.channel, ns)
	if req == nil || !req.Recover {
		// Registered before the position is read, with live publications
		// held meanwhile, as when recovering: a broker that subscribes
		// this node to the channel only now (Redis) delivers what is
		// published after the subscription, so what came between a
		// position read first and the subscription would be missed.
		j.sub = newRecovering()
		if err := h.register(ctx, s, j.channel, j.sub, nil); err != nil {
			j.sub = nil
			return err
		}
		pos, err := h.broker.History(ctx, j.channel, herald.HistoryOptions{Stream: ns.Stream()})
		if err != nil {
			j.sub = nil
			return h.brokerError("read the position of", j.channel, err)
		}
		j.result.Offset, j.result.Epoch, j.top = pos.Offset, pos.Epoch, pos.Offset
		return nil
	}

	j.sub = newRecovering()
	if err := h.register(ctx, s, j.channel, j.sub, nil); err != nil {
		j.sub = nil
		return err
	}
	since := herald.StreamPosition{Offset: req.Offset, Epoch: req.Epoch}
	res, err := h.broker.History(ctx, j.channel, herald.HistoryOptions{
		Since:  &since,
		Limit:  h.cfg.RecoveryMax + 1,
		Stream: ns.Stream(),
	})
	if err != nil {
		j.sub = nil
		return h.brokerError("recover", j.channel, err)
	}
	j.result.Offset, j.result.Epoch, j.top = res.Offset, res.Epoch, res.Offset
	j.result.Recovered, j.result.Publications = recovery(since, res, h.cfg.RecoveryMax)
	h.m.Recoveries.WithLabelValues(strconv.FormatBool(j.result.Recovered)).Inc()
	return nil
}

// recovery decides what a client at since gets from res, the history after
// it: everything it missed, in order, and recovered true; or, when it
// cannot have all of it, recovered false with what is still kept.
func recovery(since herald.StreamPosition, res herald.HistoryResult, max int) (bool, []protocol.PubPush) {
	if since.Epoch != "" && since.Epoch != res.Epoch {
		return false, nil // another history: its offsets mean nothing here
	}
	if since.Offset > res.Offset || res.Offset-since.Offset > uint64(max) {
		return false, nil // beyond the stream, or more missed than a replay may carry
	}
	pubs := make([]protocol.PubPush, len(res.Publications))
	for i, p := range res.Publications {
		pubs[i] = protocol.PubPush{Offset: p.Offset, Data: p.Data}
	}
	complete := res.Offset-since.Offset == uint64(len(pubs))
	return complete, pubs
}

func (s *Session) unsubscribe(id uint32, req *protocol.UnsubscribeRequest) error {
	if err := herald.ValidateChannel(req.Channel, 1<<16); err != nil {
		return err
	}
	s.part(req.Channel)
	s.reply(&protocol.Reply{ID: id, Unsubscribe: &protocol.UnsubscribeResult{}})
	return nil
}

// part ends s's subscription to channel, if it has one.
func (s *Session) part(channel string) bool {
	s.mu.Lock()
	ok := slices.Contains(s.channels, channel)
	s.channels = removeChannel(s.channels, channel)
	s.subExp = slices.DeleteFunc(s.subExp, func(e subExpiry) bool { return e.channel == channel })
	s.mu.Unlock()
	if ok {
		s.hub.leave(s, channel)
		s.hub.retrace(s)
	}
	return ok
}

// enter adds s to the channel's presence and announces it, where the
// namespace asks for either.
func (h *Hub) enter(ctx context.Context, s *Session, channel string, ns herald.NamespaceOptions, info json.RawMessage) error {
	ci := s.clientInfo()
	if info != nil {
		ci.Info = info // the subscription token's info, for this channel
	}
	if ns.Presence && h.cfg.Presence != nil {
		// The subscribe reply may be on its way already, so a failure
		// here cannot fail the subscription: a shared presence store
		// adds the entry at its next refresh instead.
		if err := h.cfg.Presence.AddPresence(ctx, channel, ci); err != nil {
			s.log().Warn("presence not added", "channel", channel, "err", err)
		}
	}
	if ns.JoinLeave {
		if err := h.broker.PublishJoin(ctx, channel, ci); err != nil {
			h.log.Warn("join not published", "channel", channel, "err", err)
		}
	}
	return nil
}

// leave unregisters s from channel and undoes enter.
func (h *Hub) leave(s *Session, channel string) {
	if !h.unregister(s, channel) {
		return
	}
	ns, err := h.cfg.Namespaces.Resolve(channel)
	if err != nil {
		return
	}
	ctx := context.Background()
	if ns.Presence && h.cfg.Presence != nil {
		if err := h.cfg.Presence.RemovePresence(ctx, channel, s.id); err != nil {
			s.log().Warn("presence not removed", "channel", channel, "err", err)
		}
	}
	if ns.JoinLeave {
		if err := h.broker.PublishLeave(ctx, channel, s.clientInfo()); err != nil {
			h.log.Warn("leave not published", "channel", channel, "err", err)
		}
	}
}

func (h *Hub) brokerError(what, channel string, err error) error {
	h.log.Error("broker call failed", "op", what, "channel", channel, "err", err)
	return herald.Errorf(herald.ErrUnavailable, "could not %s %q: the broker is not available", what, channel)
}

// authorizeSubscribe applies a namespace's subscribe access to a client's
// subscribe: user-limited channels, authenticated users only, or a
// subscription token (or the subscribe hook's approval).
func (s *Session) authorizeSubscribe(ctx context.Context, channel string, ns herald.NamespaceOptions, token string) (SubscribeGrant, error) {
	s.mu.Lock()
	user := s.user
	s.mu.Unlock()
	if err := admitsUser(channel, user); err != nil {
		return SubscribeGrant{}, err
	}
	access := orDefault(ns.SubscribeAccess, herald.AccessAnyone)
	if token == "" && access != herald.AccessToken {
		return SubscribeGrant{}, s.may(access, channel, "subscribe")
	}
	auth := s.hub.cfg.Auth
	if auth == nil {
		return SubscribeGrant{}, herald.Errorf(herald.ErrPermissionDenied, "channel %q needs a subscription token, and this server verifies none", channel)
	}
	return auth.Subscribe(ctx, SubscribeCheck{Client: s.id, User: user, Channel: channel, Token: token})
}
