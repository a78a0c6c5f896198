package redis

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/heraldrt/herald"
	"github.com/redis/rueidis"
)

// DeliveryStats count how this node's deliveries were kept whole.
type DeliveryStats struct {
	// CaughtUp counts publications read from history because pub/sub did
	// not bring them (a reconnect, or a message lost on the way).
	CaughtUp uint64
	// Lost counts the times a channel's delivery had a hole history could
	// not fill, so its local subscribers were made to recover.
	Lost uint64
}

// Stats returns the delivery counters since New.
func (b *Broker) Stats() DeliveryStats {
	var st DeliveryStats
	for _, s := range b.shards {
		if s.router != nil {
			s.router.each(func(d *dispatcher) {
				st.CaughtUp += d.caughtUp.Load()
				st.Lost += d.lost.Load()
			})
		}
	}
	return st
}

// dispatcher hands what one pub/sub connection brings to the handler, in
// the order it came, and keeps each channel's delivery whole: it
// remembers the position of the last publication it delivered per
// channel, and when the next one skips offsets, or after the connection
// was down, it reads the missing ones from history and delivers them
// first. When history cannot fill the hole (the epoch changed, or it was
// trimmed), it tells the handler (herald.StreamLossHandler), which makes
// the channel's subscribers recover: they then get what they missed or
// recovered: false.
//
// Messages are queued by the connection's reader and delivered by the
// dispatcher's own goroutine, because reading history is a Redis call
// that must not block the reader.
type dispatcher struct {
	b *Broker

	mu   sync.Mutex
	q    []event
	wake chan struct{}

	// pos and moved are owned by run. moved holds the channels whose slot
	// went to another master: what still arrives for them here goes to
	// the dispatcher that has their position now (see handOver).
	pos   map[string]*tracked
	moved map[string]*dispatcher

	caughtUp, lost atomic.Uint64
}

type eventKind uint8

const (
	evMessage eventKind = iota
	evTrack             // start keeping the channel's position
	evBase              // the channel's position when it was subscribed
	evUntrack
	evCatchUp    // the connection came back: catch every channel up
	evSuspect    // the connection broke: what comes next may follow a loss
	evHandOver   // the channel's slot moved: give its position to e.to
	evAdopt      // take the channel's position, e.t, from another dispatcher
	evCatchUpOne // catch the channel up, now subscribed at its new master
)

type event struct {
	kind    eventKind
	channel string // pub/sub channel name for evMessage, herald channel otherwise
	msg     string
	base    herald.StreamPosition // evBase
	to      *dispatcher           // evHandOver
	t       *tracked              // evAdopt
	handed  chan struct{}         // evHandOver: closed once e.to has it
}

// tracked is a channel's delivery position.
type tracked struct {
	pos   herald.StreamPosition
	known bool // false: the next publication sets pos unchecked
	// base is the stream's position read just after subscribing: where a
	// catch-up starts when nothing was delivered yet. It is not used to
	// drop publications, since some at or below it may still be on
	// their way through pub/sub.
	base    herald.StreamPosition
	hasBase bool
	// suspect is set from a reconnect until the catch-up after it: an
	// epoch change seen then may hide publications lost with the old
	// epoch, so it is a loss, not an expiry.
	suspect bool
}

func newDispatcher(b *Broker) *dispatcher {
	return &dispatcher{b: b, wake: make(chan struct{}, 1), pos: map[string]*tracked{}, moved: map[string]*dispatcher{}}
}

func (d *dispatcher) push(e event) {
	d.mu.Lock()
	d.q = append(d.q, e)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// onMessage is the connection's pub/sub hook; it must not block.
func (d *dispatcher) onMessage(m rueidis.PubSubMessage) {
	d.push(event{kind: evMessage, channel: m.Channel, msg: m.Message})
}

func (d *dispatcher) catchUpAll() { d.push(event{kind: evCatchUp}) }

func (d *dispatcher) suspectAll() { d.push(event{kind: evSuspect}) }

// track starts keeping the channel's position, before it is subscribed.
func (d *dispatcher) track(channel string) {
	d.push(event{kind: evTrack, channel: channel})
}

// setBase records the stream's position read after subscribing.
func (d *dispatcher) setBase(channel string, base herald.StreamPosition) {
	d.push(event{kind: evBase, channel: channel, base: base})
}

func (d *dispatcher) untrack(channel string) {
	d.push(event{kind: evUntrack, channel: channel})
}

func (d *dispatcher) run(done <-chan struct{}) {
	var batch []event
	for {
		select {
		case <-done:
			return
		case <-d.wake:
		}
		d.mu.Lock()
		batch, d.q = d.q, batch[:0]
		d.mu.Unlock()
		for _, e := range batch {
			select {
			case <-done:
				return
			default:
			}
			d.handle(e)
		}
		clear(batch)
	}
}

func (d *dispatcher) handle(e event) {
	switch e.kind {
	case evTrack:
		// Subscribed here again, after its slot left and came back.
		delete(d.moved, e.channel)
		if d.pos[e.channel] == nil {
			d.pos[e.channel] = &tracked{}
		}
	case evBase:
		if t := d.pos[e.channel]; t != nil {
			t.base, t.hasBase = e.base, true
		}
	case evUntrack:
		delete(d.pos, e.channel)
		delete(d.moved, e.channel)
	case evCatchUp:
		// A new connection carries none of the moved channels.
		clear(d.moved)
		for ch, t := range d.pos {
			d.catchUp(ch, t)
			t.suspect = false
		}
	case evHandOver, evAdopt, evCatchUpOne:
		d.handleMove(e)
	case evSuspect:
		for _, t := range d.pos {
			t.suspect = true
		}
	case evMessage:
		d.message(e.channel, e.msg)
	}
}

func (d *dispatcher) message(name, msg string) {
	h := d.b.handler
	if name == controlChannel(d.b.opts.Prefix) {
		h.HandleControl([]byte(msg))
		return
	}
	channel, ok := channelOf(d.b.opts.Prefix, name)
	if !ok || msg == "" {
		d.b.opts.Logger.Error("redis broker: message on an unknown pub/sub channel", "channel", name)
		return
	}
	if to := d.moved[channel]; to != nil {
		to.push(event{kind: evMessage, channel: name, msg: msg})
		return
	}
	switch msg[0] {
	case 'p':
		pub, ok := parsePublication(msg)
		if !ok {
			d.b.opts.Logger.Error("redis broker: malformed publication", "channel", channel)
			return
		}
		d.publication(channel, pub)
	case 'j', 'l':
		var c herald.ClientInfo
		if err := json.Unmarshal([]byte(msg[1:]), &c); err != nil {
			d.b.opts.Logger.Error("redis broker: malformed join or leave", "channel", channel, "err", err)
			return
		}
		if msg[0] == 'j' {
			h.HandleJoin(channel, c)
		} else {
			h.HandleLeave(channel, c)
		}
	}
}

// channelOf turns a pub/sub channel name back into a herald channel.
func channelOf(prefix, name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, prefix+":{")
	if !ok || !strings.HasSuffix(rest, "}") {
		return "", false
	}
	return rest[:len(rest)-1], true
}

// parsePublication reads "p<offset> <epoch> <origin> <data>".
func parsePublication(msg string) (herald.Publication, bool) {
	parts := strings.SplitN(msg[1:], " ", 4)
	if len(parts) != 4 {
		return herald.Publication{}, false
	}
	off, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return herald.Publication{}, false
	}
	return herald.Publication{Data: []byte(parts[3]), Origin: parts[2],
		StreamPosition: herald.StreamPosition{Offset: off, Epoch: parts[1]}}, true
}

// publication delivers pub after whatever history must fill in before it.
func (d *dispatcher) publication(channel string, pub herald.Publication) {
	t := d.pos[channel]
	if t == nil || pub.Offset == 0 {
		// Not kept (a channel without history, or one this node is
		// leaving): nothing to check it against.
		d.b.handler.HandlePublication(channel, pub)
		return
	}
	switch {
	case !t.known:
	case pub.Epoch == t.pos.Epoch:
		if pub.Offset <= t.pos.Offset {
			return // delivered already, by a catch-up
		}
		if pub.Offset > t.pos.Offset+1 {
			d.fill(channel, t, pub.StreamPosition)
		}
	default:
		// The stream began after this node subscribed, or began again:
		// the history expired after a quiet history_ttl (clients take
		// offset 1 of a new epoch as that), or Redis lost it. Pub/sub
		// lost nothing of the old epoch unless the connection broke
		// since; the new one is filled from its start.
		if t.suspect && t.pos.Epoch != "" {
			d.streamLost(channel)
		}
		t.pos = herald.StreamPosition{Epoch: pub.Epoch}
		if pub.Offset > 1 {
			d.fill(channel, t, pub.StreamPosition)
		}
	}
	d.b.handler.HandlePublication(channel, pub)
	t.pos, t.known = pub.StreamPosition, true
}

// fill delivers the publications between t.pos and upto (excluded) from
// history.
func (d *dispatcher) fill(channel string, t *tracked, upto herald.StreamPosition) {
	missing := upto.Offset - t.pos.Offset - 1
	if missing > uint64(d.b.opts.MaxCatchUp) {
		d.streamLost(channel)
		return
	}
	res, err := d.read(channel, t.pos, int(missing))
	if err != nil || res.Epoch != upto.Epoch {
		d.streamLost(channel)
		return
	}
	next := t.pos.Offset + 1
	for _, p := range res.Publications {
		if p.Offset != next || p.Offset >= upto.Offset {
			break
		}
		d.b.handler.HandlePublication(channel, p)
		d.caughtUp.Add(1)
		next++
	}
	if next != upto.Offset {
		d.streamLost(channel)
	}
}

// catchUp delivers from history what was published to the channel since
// its last delivery, after the connection was down.
func (d *dispatcher) catchUp(channel string, t *tracked) {
	if !t.known {
		if !t.hasBase {
			// Its subscribe is still under way: the position it reads
			// once subscribed is where delivery starts.
			return
		}
		t.pos, t.known = t.base, true
	}
	res, err := d.read(channel, t.pos, d.b.opts.MaxCatchUp+1)
	switch {
	case err != nil:
		d.streamLost(channel)
		return
	case res.Epoch == "" && t.pos.Epoch == "":
		return // no history, so nothing to catch up on
	case t.pos.Epoch == "":
		t.pos.Epoch = res.Epoch
	case res.Epoch != t.pos.Epoch:
		d.streamLost(channel)
		t.known = false
		return
	}
	next := t.pos.Offset + 1
	for _, p := range res.Publications {
		if p.Offset != next {
			break
		}
		d.b.handler.HandlePublication(channel, p)
		d.caughtUp.Add(1)
		next++
	}
	if next <= res.Offset {
		d.streamLost(channel)
	}
	t.pos = res.StreamPosition
}

func (d *dispatcher) read(channel string, since herald.StreamPosition, limit int) (herald.HistoryResult, error) {
	ctx, cancel := d.b.ctx(context.Background())
	defer cancel()
	return d.b.History(ctx, channel, herald.HistoryOptions{Since: &since, Limit: limit})
}

// streamLost makes the channel's local subscribers recover, if the handler
// can.
func (d *dispatcher) streamLost(channel string) {
	d.lost.Add(1)
	d.b.opts.Logger.Warn("redis broker: publications missed and not in history; subscribers recover", "channel", channel)
	if h, ok := d.b.handler.(herald.StreamLossHandler); ok {
		h.HandleStreamLoss(channel)
	}
}
