package hub

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/heraldrt/herald"
)

// subscription is the state of a subscriber while it recovers: from
// registration until the recovered publications are queued, live
// publications wait in pending instead of the queue, so that none is lost
// or repeated at the seam between history and live delivery.
type subscription struct {
	recovering atomic.Bool
	mu         sync.Mutex
	pending    []pendingPub
}

type pendingPub struct {
	offset uint64 // 0 for publications outside the stream (ephemeral, join, leave)
	msg    []byte
}

func newRecovering() *subscription {
	sub := &subscription{}
	sub.recovering.Store(true)
	return sub
}

// deliver queues msg to s, or holds it while s recovers. sub is nil for a
// subscriber that is not recovering, the common case.
func (sub *subscription) deliver(s *Session, offset uint64, msg []byte) {
	if sub == nil || !sub.recovering.Load() {
		s.q.push(msg)
		return
	}
	sub.mu.Lock()
	if sub.recovering.Load() {
		sub.pending = append(sub.pending, pendingPub{offset, msg})
		sub.mu.Unlock()
		return
	}
	sub.mu.Unlock()
	s.q.push(msg)
}

// finish queues the reply, then the held publications newer than top (the
// stream position the reply brings the client to), and turns live
// delivery on: all under the subscription's lock, so that a publication
// arriving meanwhile waits and lands after them.
func (sub *subscription) finish(s *Session, reply []byte, top uint64) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if reply != nil {
		s.q.push(reply)
	}
	for _, p := range sub.pending {
		if p.offset == 0 || p.offset > top {
			s.q.push(p.msg)
		}
	}
	sub.pending = nil
	sub.recovering.Store(false)
}

// register adds s to the channel's subscribers (with sub while it
// recovers, nil otherwise) and queues reply, if any, while the channel's
// shard is locked, so that no publication can reach s before the reply.
func (h *Hub) register(ctx context.Context, s *Session, channel string, sub *subscription, reply []byte) error {
	sh := h.reg.subShard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	subs := sh.channels[channel]
	if subs == nil {
		if err := h.broker.Subscribe(ctx, channel); err != nil {
			h.log.Error("broker subscribe failed", "channel", channel, "err", err)
			return herald.Errorf(herald.ErrUnavailable, "subscribe to %q failed: the broker is not available", channel)
		}
		subs = make(map[*Session]*subscription, 1)
		sh.channels[channel] = subs
		h.m.Channels.Inc()
	}
	subs[s] = sub
	h.m.Subscriptions.Inc()
	if reply != nil {
		s.q.push(reply)
	}
	return nil
}

// live drops the recovery state of a subscriber that has finished.
func (h *Hub) live(s *Session, channel string) {
	sh := h.reg.subShard(channel)
	sh.mu.Lock()
	if subs := sh.channels[channel]; subs != nil {
		if _, ok := subs[s]; ok {
			subs[s] = nil
		}
	}
	sh.mu.Unlock()
}

// unregister removes s from the channel's subscribers; it reports whether
// s was one.
func (h *Hub) unregister(s *Session, channel string) bool {
	sh := h.reg.subShard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	subs := sh.channels[channel]
	if _, ok := subs[s]; !ok {
		return false
	}
	delete(subs, s)
	h.m.Subscriptions.Dec()
	if len(subs) == 0 {
		delete(sh.channels, channel)
		h.m.Channels.Dec()
		if err := h.broker.Unsubscribe(context.Background(), channel); err != nil {
			h.log.Warn("broker unsubscribe failed", "channel", channel, "err", err)
		}
	}
	return true
}
