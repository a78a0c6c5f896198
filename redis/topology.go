package redis

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
)

// This file holds how a cluster node follows the cluster's slot map while
// it runs: the router re-reads the map (follow), and each channel whose
// slot went to another master is moved there with its delivery position,
// so that the new master's dispatcher catches it up from history.

// handOver gives the channel's delivery position to the dispatcher to,
// after everything queued here for it was delivered; what still arrives
// here for it is passed on to to, which drops what it delivered already.
func (d *dispatcher) handOver(channel string, to *dispatcher) {
	handed := make(chan struct{})
	d.push(event{kind: evHandOver, channel: channel, to: to, handed: handed})
	select {
	case <-handed:
	case <-d.b.done:
	}
}

// catchUpOne catches the channel up once it is subscribed at its new
// master: publications made between the move and the SSUBSCRIBE are in
// history only.
func (d *dispatcher) catchUpOne(channel string) {
	d.push(event{kind: evCatchUpOne, channel: channel})
}

func (d *dispatcher) handleMove(e event) {
	switch e.kind {
	case evHandOver:
		t := d.pos[e.channel]
		delete(d.pos, e.channel)
		if t == nil {
			t = &tracked{}
		}
		// Until the catch-up at the new master, an epoch change may hide
		// publications lost with the old one.
		t.suspect = true
		d.moved[e.channel] = e.to
		e.to.push(event{kind: evAdopt, channel: e.channel, t: t})
		close(e.handed)
	case evAdopt:
		d.pos[e.channel] = e.t
		delete(d.moved, e.channel)
	case evCatchUpOne:
		if t := d.pos[e.channel]; t != nil {
			d.catchUp(e.channel, t)
			t.suspect = false
		}
	}
}

// retryDelay is how soon a channel left unsubscribed by a move is tried
// again: the node asked for the slot map may not have heard of the move.
const retryDelay = 200 * time.Millisecond

// follow re-reads the slot map every Options.ClusterRefreshInterval, and
// at once when a subscriber says a slot moved or its connection broke.
func (r *clusterRouter) follow(done <-chan struct{}) {
	tick := time.NewTicker(r.b.opts.ClusterRefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		case <-r.kick:
		}
		r.refresh()
	}
}

// wake asks follow for a refresh; it never blocks.
func (r *clusterRouter) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// lostChannel is a subscriber's report that Redis dropped a channel it
// still wants (an sunsubscribe push: its slot migrated).
func (r *clusterRouter) lostChannel(channel string) {
	r.mu.Lock()
	r.retry[channel] = struct{}{}
	r.mu.Unlock()
	r.wake()
}

// refresh reads the slot map and moves every channel, and the control
// channel, whose slot another master serves now.
func (r *clusterRouter) refresh() {
	ctx, cancel := r.b.ctx(context.Background())
	defer cancel()
	if err := r.readSlots(ctx); err != nil {
		r.b.opts.Logger.Warn("redis broker: cannot read the cluster's slot map; trying again", "err", err)
		time.AfterFunc(retryDelay, r.wake)
		return
	}
	r.mu.Lock()
	var todo []string
	for ch, addr := range r.owner {
		_, retry := r.retry[ch]
		if retry || r.slots[slot(keys{r.b.opts.Prefix, ch}.pubsub())] != addr {
			todo = append(todo, ch)
		}
	}
	controlAt := r.slots[slot(controlChannel(r.b.opts.Prefix))]
	moveControl := controlAt != r.control || r.controlLost
	r.mu.Unlock()
	again := false
	if moveControl && !r.moveControl(ctx, controlAt) {
		again = true
	}
	for _, ch := range todo {
		if !r.move(ctx, ch) {
			again = true
		}
	}
	if again {
		time.AfterFunc(retryDelay, r.wake)
	}
}

// move subscribes the channel at the master of its slot, handing its
// position over if that is another master, and catches it up. It reports
// whether the channel is subscribed where the map says.
func (r *clusterRouter) move(ctx context.Context, channel string) bool {
	name := keys{r.b.opts.Prefix, channel}.pubsub()
	mu := r.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	r.mu.Lock()
	from, ok := r.owner[channel]
	r.mu.Unlock()
	if !ok {
		return true // unsubscribed meanwhile
	}
	to, addr, err := r.subscriberFor(name, false)
	if err != nil {
		r.b.opts.Logger.Warn("redis broker: cannot move a channel to its new master", "channel", channel, "err", err)
		return false
	}
	if addr != from {
		r.mu.Lock()
		old := r.subs[from]
		r.mu.Unlock()
		old.release(channel)
		old.d.handOver(channel, to.d)
		r.mu.Lock()
		r.owner[channel] = addr
		r.mu.Unlock()
		r.b.opts.Logger.Info("redis broker: channel moved to another cluster master", "channel", channel, "from", from, "to", addr)
	}
	if err := to.adopt(ctx, channel); err != nil {
		r.mu.Lock()
		r.retry[channel] = struct{}{}
		r.mu.Unlock()
		r.logRetry("redis broker: cannot subscribe a moved channel; trying again", err, "channel", channel, "at", addr)
		return false
	}
	r.mu.Lock()
	delete(r.retry, channel)
	r.mu.Unlock()
	return true
}

// moveControl moves the control channel's SSUBSCRIBE to addr. Control
// messages published during the move may be missed: they have no history.
func (r *clusterRouter) moveControl(ctx context.Context, addr string) bool {
	name := controlChannel(r.b.opts.Prefix)
	to, _, err := r.subscriberFor(name, false)
	if err != nil {
		r.b.opts.Logger.Warn("redis broker: cannot move the control channel", "err", err)
		return false
	}
	r.mu.Lock()
	old := r.subs[r.control]
	r.control, r.controlLost = addr, false
	r.mu.Unlock()
	if old != nil && old != to {
		old.setControl(false)
	}
	if err := to.setControl(true).adoptControl(ctx); err != nil {
		r.mu.Lock()
		r.controlLost = true // so that the next refresh tries again
		r.mu.Unlock()
		r.logRetry("redis broker: cannot subscribe the control channel at its new master; trying again", err, "at", addr)
		return false
	}
	r.b.opts.Logger.Info("redis broker: control channel subscribed at its cluster master", "at", addr)
	return true
}

// logRetry logs a subscribe to retry: a warning, unless the connection
// is only not up yet (a master this node had no channel on until now),
// whose connect subscribes the channel anyway.
func (r *clusterRouter) logRetry(msg string, err error, args ...any) {
	args = append(args, "err", err)
	if errors.Is(err, errDown) {
		r.b.opts.Logger.Debug(msg, args...)
		return
	}
	r.b.opts.Logger.Warn(msg, args...)
}

// errMoved marks an SSUBSCRIBE answered MOVED or ASK: the slot map this
// node holds is stale.
var errMoved = errors.New("redis broker: the channel's slot moved")

func isMoved(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	if !ok {
		return false
	}
	_, moved := re.IsMoved()
	_, ask := re.IsAsk()
	return moved || ask
}

// onSubscription is the connection's subscription hook, called by its
// reader: it must not block. Redis 7 pushes sunsubscribe for every channel
// of a slot the master stops serving; one this node still wants is
// reported to the router. SUNSUBSCRIBEs of our own are of channels
// forgotten already.
func (s *subscriber) onSubscription(sub rueidis.PubSubSubscription) {
	if s.cluster == nil || sub.Kind != "sunsubscribe" {
		return
	}
	if sub.Channel == controlChannel(s.b.opts.Prefix) {
		s.mu.Lock()
		control := s.control
		s.mu.Unlock()
		if control {
			s.cluster.lostControl()
		}
		return
	}
	channel, ok := channelOf(s.b.opts.Prefix, sub.Channel)
	if !ok {
		return
	}
	s.mu.Lock()
	_, wanted := s.channels[channel]
	s.mu.Unlock()
	if wanted {
		s.cluster.lostChannel(channel)
	}
}

// lostControl is a subscriber's report that Redis dropped the control
// channel: it is subscribed again where the slot map says.
func (r *clusterRouter) lostControl() {
	r.mu.Lock()
	r.controlLost = true
	r.mu.Unlock()
	r.wake()
}

// carries reports whether the connection has anything to carry.
func (s *subscriber) carries() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.control || len(s.channels) > 0
}

// release stops wanting the channel without SUNSUBSCRIBE: its slot left
// this master, which dropped the subscription, or will when it learns.
func (s *subscriber) release(channel string) {
	s.mu.Lock()
	delete(s.channels, channel)
	s.mu.Unlock()
}

// errDown: the connection is not up. A channel adopted meanwhile is
// tried again: a connect under way may have read the channels before it.
var errDown = errors.New("redis broker: pub/sub is not connected")

// adopt wants the channel, whose position was handed over to s.d,
// subscribes it and catches it up.
func (s *subscriber) adopt(ctx context.Context, channel string) error {
	s.mu.Lock()
	s.channels[channel] = struct{}{}
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return errDown
	}
	s.cmdMu.Lock()
	err := s.do(ctx, conn, keys{s.b.opts.Prefix, channel}.pubsub())
	s.cmdMu.Unlock()
	s.d.catchUpOne(channel)
	return err
}

func (s *subscriber) setControl(on bool) *subscriber {
	s.mu.Lock()
	s.control = on
	s.mu.Unlock()
	return s
}

// adoptControl subscribes the control channel.
func (s *subscriber) adoptControl(ctx context.Context) error {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return errDown
	}
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	return s.do(ctx, conn, controlChannel(s.b.opts.Prefix))
}
