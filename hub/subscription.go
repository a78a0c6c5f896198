package hub

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/heraldrt/herald"
)

// subscription is the state of a subscriber that has just joined a channel
// with history, until the fan-out has passed the stream position its
// subscribe reply told it. The fan-out runs behind the broker (publish
// answers before it), so a publication given its offset before the reply's
// position was read can still reach the subscriber afterwards; it is
// already in what the client has (its history or its recovery) and is
// dropped here rather than sent twice.
//
// From registration until the reply (with what it recovers) is queued,
// live publications wait in pending instead of the queue, so that none is
// lost or repeated at the seam between history and live delivery.
type subscription struct {
	state   atomic.Uint32 // subHolding, subFiltering or subLive
	mu      sync.Mutex
	pending []pendingPub // while subHolding

	// floor and epoch are the position the reply told: publications of
	// that epoch up to floor are the client's already. Set before state
	// leaves subHolding and not changed after.
	floor uint64
	epoch string
}

const (
	subHolding   uint32 = iota // recovering: live publications wait in pending
	subFiltering               // publications up to floor are dropped
	subLive                    // past floor: everything is queued
)

type pendingPub struct {
	offset uint64 // 0 for publications outside the stream (ephemeral, join, leave)
	epoch  string
	msg    []byte
}

func newRecovering() *subscription {
	return &subscription{} // subHolding
}

// deliver queues msg to s, holds it while s recovers, or drops it if the
// reply covered it. It reports whether sub is no longer needed: the fan-out
// then forgets it. Calls for one channel come from one fan-out worker at a
// time, in offset order.
func (sub *subscription) deliver(s *Session, offset uint64, epoch string, msg []byte) bool {
	switch sub.state.Load() {
	case subLive:
		s.q.push(msg)
		return true
	case subFiltering:
		return sub.pass(s, offset, epoch, msg)
	}
	sub.mu.Lock()
	if sub.state.Load() == subHolding {
		sub.pending = append(sub.pending, pendingPub{offset, epoch, msg})
		sub.mu.Unlock()
		return false
	}
	sub.mu.Unlock()
	return sub.pass(s, offset, epoch, msg)
}

// covered reports whether the publication at offset of epoch is one the
// subscribe reply brought the client to already.
func (sub *subscription) covered(offset uint64, epoch string) bool {
	return offset != 0 && epoch == sub.epoch && offset <= sub.floor
}

// pass filters for a subscriber past recovery. The first publication of
// the stream that is not covered means the fan-out has passed floor (it
// runs in offset order; another epoch means the history started over), so
// nothing later needs the check.
func (sub *subscription) pass(s *Session, offset uint64, epoch string, msg []byte) bool {
	if sub.covered(offset, epoch) {
		return false
	}
	s.q.push(msg)
	if offset == 0 {
		return false // outside the stream: says nothing about the position
	}
	sub.state.Store(subLive)
	return true
}

// finish queues the reply, then the held publications the reply does not
// cover (top and epoch are the stream position it brings the client to),
// and moves to filtering: all under the subscription's lock, so that a
// publication arriving meanwhile waits and lands after them.
func (sub *subscription) finish(s *Session, reply []byte, top uint64, epoch string) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.floor, sub.epoch = top, epoch
	if reply != nil {
		s.q.push(reply)
	}
	for _, p := range sub.pending {
		if !sub.covered(p.offset, p.epoch) {
			s.q.push(p.msg)
		}
	}
	sub.pending = nil
	sub.state.Store(subFiltering)
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
		// A tapped channel is subscribed on the broker already.
		if !sh.tapped(channel) {
			if err := h.broker.Subscribe(ctx, channel); err != nil {
				h.log.Error("broker subscribe failed", "channel", channel, "err", err)
				return herald.Errorf(herald.ErrUnavailable, "subscribe to %q failed: the broker is not available", channel)
			}
		}
		subs = make(map[*Session]*subscription, 1)
		sh.channels[channel] = subs
		h.m.Channels.Inc()
	}
	subs[s] = sub
	if sub == nil {
		// Without history there are no offsets to tell a publication in
		// flight from a later one; its place in the sequence does.
		sh.markJoined(s, channel, &h.fan.seqs[h.reg.subIndex(channel)])
	}
	h.m.Subscriptions.Inc()
	if reply != nil {
		s.q.push(reply)
	}
	return nil
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
		if sh.tapped(channel) {
			return true // the taps keep the node subscribed
		}
		if err := h.broker.Unsubscribe(context.Background(), channel); err != nil {
			h.log.Warn("broker unsubscribe failed", "channel", channel, "err", err)
		}
	}
	return true
}
