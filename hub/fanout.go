package hub

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// maxPending is how many deliveries one shard's sequence holds before the
// broker's next call for that shard waits for the fan-out to catch up: a
// publisher is not held up by the fan-out in the normal course, but one
// that publishes faster than its subscribers can be reached for long is
// slowed down rather than let the backlog grow without bound.
const maxPending = 1024

// delivery is one publication, join or leave waiting to be fanned out.
type delivery struct {
	channel string
	pub     herald.Publication
	encode  func() []byte // a join or leave push; nil for a publication
	seq     uint64        // its place in the shard's sequence, from 1
}

// sequence holds the deliveries of the channels of one registry shard, in
// the order the broker handed them over. One fan-out worker at a time
// drains a sequence, so every subscriber gets a channel's publications in
// that order, which is their offsets' order.
type sequence struct {
	mu      sync.Mutex
	room    sync.Cond // signalled when items has been taken
	items   []delivery
	spare   []delivery
	running bool // on the run queue or being drained
	shard   int  // the registry shard whose channels it holds
	// added is the seq of the last delivery added (written under mu),
	// done that of the last one fanned out: while added > done, some are
	// in flight, and a subscriber registered then must not get them.
	added, done atomic.Uint64
}

// fanouts is the hub's bounded set of fan-out workers and the per-shard
// sequences they drain. The broker's HandlePublication only appends to a
// sequence, so a publish answers once the broker has given the
// publication its offset, whatever the audience.
type fanouts struct {
	run     runq[*sequence]
	seqs    [shards]sequence
	wg      sync.WaitGroup
	stopped atomic.Bool
}

// fanoutWorkers is how many fan-out workers a hub runs: one per core (at
// least two), as their work only queues and never waits on the network.
func fanoutWorkers() int { return max(2, runtime.GOMAXPROCS(0)) }

func (f *fanouts) init() {
	f.run.init()
	for i := range f.seqs {
		f.seqs[i].room.L = &f.seqs[i].mu
		f.seqs[i].shard = i
	}
}

// start runs n fan-out workers for h until shutdown.
func (f *fanouts) start(h *Hub, n int) {
	f.wg.Add(n)
	for range n {
		go h.fanoutLoop()
	}
}

// add appends d to shard i's sequence, waiting while the sequence is full.
func (f *fanouts) add(i int, d delivery) {
	sq := &f.seqs[i]
	sq.mu.Lock()
	for len(sq.items) >= maxPending && !f.stopped.Load() {
		sq.room.Wait()
	}
	if f.stopped.Load() {
		sq.mu.Unlock()
		return // the hub is closed: nobody is left to deliver to
	}
	d.seq = sq.added.Add(1)
	sq.items = append(sq.items, d)
	start := !sq.running
	sq.running = true
	sq.mu.Unlock()
	if start {
		f.run.put(sq)
	}
}

// shutdown lets the workers fan out what is queued, then stops them and
// waits for them.
func (f *fanouts) shutdown() {
	f.run.stop()
	f.wg.Wait()
	f.stopped.Store(true)
	for i := range f.seqs {
		sq := &f.seqs[i]
		sq.mu.Lock()
		sq.items, sq.spare = nil, nil
		sq.mu.Unlock()
		sq.room.Broadcast()
	}
}

// caughtUp is a subscriber whose recovery state is no longer needed: the
// fan-out has passed the position its subscribe reply told it.
type caughtUp struct {
	s   *Session
	sub *subscription
}

func (h *Hub) fanoutLoop() {
	defer h.fan.wg.Done()
	var caught []caughtUp
	for {
		sq, ok := h.fan.run.take()
		if !ok {
			return
		}
		caught = h.drain(sq, caught)
	}
}

// drain fans out what sq holds. What is added meanwhile waits for the
// sequence's next turn, at the back of the run queue, so that one busy
// shard cannot keep a worker from the others.
func (h *Hub) drain(sq *sequence, caught []caughtUp) []caughtUp {
	sq.mu.Lock()
	items := sq.items
	sq.items, sq.spare = sq.spare[:0], nil
	sq.mu.Unlock()
	sq.room.Broadcast()

	for i := range items {
		caught = h.deliver(&items[i], caught[:0])
	}
	if n := len(items); n > 0 {
		sq.done.Store(items[n-1].seq)
		h.reg.subs[sq.shard].passed(items[n-1].seq)
	}
	clear(items)

	sq.mu.Lock()
	if sq.spare == nil && cap(items) <= 64 {
		sq.spare = items[:0]
	}
	more := len(sq.items) > 0
	sq.running = more
	sq.mu.Unlock()
	if more {
		h.fan.run.put(sq)
	}
	return caught
}

// deliver queues d, encoded once, to each local subscriber of its channel,
// without waiting for any. It returns caught (emptied), reused to avoid an
// allocation per call.
func (h *Hub) deliver(d *delivery, caught []caughtUp) []caughtUp {
	sh := h.reg.subShard(d.channel)
	sh.mu.RLock()
	subs := sh.channels[d.channel]
	if h.taps.n.Load() > 0 && d.encode == nil {
		if set := sh.taps[d.channel]; len(set) > 0 {
			h.feed(set, pubLine(d.channel, &d.pub))
		}
	}
	if len(subs) == 0 {
		sh.mu.RUnlock()
		return caught
	}
	var msg []byte
	if d.encode != nil {
		msg = d.encode()
	} else {
		pub := &d.pub
		msg = protocol.AppendPub(make([]byte, 0, len(d.channel)+len(pub.Data)+64), d.channel, pub.Offset, pub.Epoch, pub.Data)
	}
	origin := d.pub.Origin
	late := sh.njoined.Load() > 0
	for s, sub := range subs {
		switch {
		case origin != "" && s.id == origin:
		case late && sh.joinedAfter(s, d):
		case sub == nil:
			s.q.push(msg)
		case sub.deliver(s, d.pub.Offset, d.pub.Epoch, msg):
			caught = append(caught, caughtUp{s, sub})
		}
	}
	sh.mu.RUnlock()
	if len(caught) == 0 {
		return caught
	}
	// Drop the recovery state of the subscribers that no longer need it,
	// unless they left (or left and came back) meanwhile.
	sh.mu.Lock()
	subs = sh.channels[d.channel]
	for _, c := range caught {
		if cur, ok := subs[c.s]; ok && cur == c.sub {
			subs[c.s] = nil
		}
	}
	sh.mu.Unlock()
	clear(caught)
	return caught[:0]
}

// HandlePublication queues a publication for the fan-out workers and
// returns: the broker calls it in offset order per channel, and the
// channel's sequence keeps that order.
func (h *Hub) HandlePublication(channel string, pub herald.Publication) {
	h.fan.add(h.reg.subIndex(channel), delivery{channel: channel, pub: pub})
}
