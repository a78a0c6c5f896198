// Package memory is Herald's embedded broker: publications stay inside one
// process, history lives in memory. It is the default; use the Redis broker
// when more than one node must share channels.
package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

var _ herald.Broker = (*Broker)(nil)

// stripes is the number of locks that serialize publishing: publications to
// one channel are ordered by their stripe's lock, channels on different
// stripes publish in parallel.
const stripes = 64

// Broker is the in-memory broker. The zero value is not usable; call New.
type Broker struct {
	seed    maphash.Seed
	stripes [stripes]stripe

	mu      sync.Mutex // guards handler and done
	handler herald.BrokerHandler
	done    chan struct{}
	wg      sync.WaitGroup

	// SweepInterval is how often expired histories are freed. Tests shorten it.
	SweepInterval time.Duration
	now           func() time.Time
}

type stripe struct {
	mu      sync.Mutex
	streams map[string]*stream
}

// New returns a broker; call Run before publishing.
func New() *Broker {
	return &Broker{seed: maphash.MakeSeed(), SweepInterval: time.Minute, now: time.Now}
}

// ErrNotRunning is returned by Publish before Start or after Close.
var ErrNotRunning = errors.New("memory broker: not running")

// Start begins delivering publications to h and frees expired histories in
// the background until Close.
func (b *Broker) Start(h herald.BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handler != nil {
		return errors.New("memory broker: already started")
	}
	b.handler, b.done = h, make(chan struct{})
	b.wg.Add(1)
	go b.sweepLoop(b.done)
	return nil
}

func (b *Broker) sweepLoop(done <-chan struct{}) {
	defer b.wg.Done()
	t := time.NewTicker(b.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			b.sweep()
		}
	}
}

// Close stops the sweeper and waits for it; Publish fails afterwards.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.done != nil {
		select {
		case <-b.done:
		default:
			close(b.done)
		}
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

func (b *Broker) running() (herald.BrokerHandler, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.handler == nil {
		return nil, false
	}
	select {
	case <-b.done:
		return nil, false
	default:
		return b.handler, true
	}
}

// Publish appends to the channel's history (when it keeps one) and hands the
// publication to the hub, both under the channel's stripe lock, so that every
// subscriber sees one order, the offsets' order.
func (b *Broker) Publish(_ context.Context, channel string, data []byte, opts herald.PublishOptions) (herald.StreamPosition, error) {
	h, ok := b.running()
	if !ok {
		return herald.StreamPosition{}, ErrNotRunning
	}
	s := &b.stripes[maphash.String(b.seed, channel)%stripes]
	s.mu.Lock()
	defer s.mu.Unlock()
	pub := herald.Publication{Data: data}
	if opts.HistorySize > 0 {
		st := s.streams[channel]
		now := b.now()
		if st == nil || st.expired(now) {
			st = newStream(opts.HistorySize)
			if s.streams == nil {
				s.streams = make(map[string]*stream)
			}
			s.streams[channel] = st
		}
		pub.StreamPosition = st.append(data, opts, now)
	}
	h.HandlePublication(channel, pub)
	return pub.StreamPosition, nil
}

// Subscribe is a no-op: in one process every publication reaches the hub,
// which drops those of channels without local subscribers.
func (b *Broker) Subscribe(context.Context, string) error { return nil }

// Unsubscribe is a no-op, as Subscribe.
func (b *Broker) Unsubscribe(context.Context, string) error { return nil }

// sweep frees histories whose TTL has passed, so a channel nobody publishes
// to stops costing memory.
func (b *Broker) sweep() {
	now := b.now()
	for i := range b.stripes {
		s := &b.stripes[i]
		s.mu.Lock()
		for ch, st := range s.streams {
			if st.expired(now) {
				delete(s.streams, ch)
			}
		}
		s.mu.Unlock()
	}
}

// Streams reports how many channels hold history, for tests and stats.
func (b *Broker) Streams() int {
	n := 0
	for i := range b.stripes {
		s := &b.stripes[i]
		s.mu.Lock()
		n += len(s.streams)
		s.mu.Unlock()
	}
	return n
}

// stream is one channel's history: a ring of the last publications.
type stream struct {
	epoch    string
	top      uint64 // offset of the newest publication
	ring     [][]byte
	expireAt time.Time
}

func newStream(size int) *stream {
	return &stream{epoch: newEpoch(), ring: make([][]byte, 0, min(size, 16))}
}

func (st *stream) expired(now time.Time) bool { return !st.expireAt.IsZero() && now.After(st.expireAt) }

func (st *stream) append(data []byte, opts herald.PublishOptions, now time.Time) herald.StreamPosition {
	st.top++
	if len(st.ring) < opts.HistorySize {
		st.ring = append(st.ring, data)
	} else {
		// Shrinking history_size on a live channel keeps the ring's old
		// length until the history expires; that is bounded and harmless.
		st.ring[int((st.top-1)%uint64(len(st.ring)))] = data
	}
	st.expireAt = now.Add(opts.HistoryTTL)
	return herald.StreamPosition{Offset: st.top, Epoch: st.epoch}
}

// newEpoch names a history: a new one is made whenever a history is lost
// (expired, or this process restarted), so that offsets from the old one are
// not mistaken for offsets in the new one.
func newEpoch() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
