package memory

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
)

var _ herald.Broker = (*Broker)(nil)

// stripes is the number of locks that serialize publishing: publications to
// one channel are ordered by their stripe's lock, channels on different
// stripes publish in parallel.
const stripes = 64

// Broker states.
const (
	stateNew int32 = iota
	stateRunning
	stateClosed
)

// Broker is the in-memory broker. The zero value is not usable; call New.
//
// Publish keeps data as given, without copying it: the caller must not
// modify it afterwards, and neither may whoever reads it back from History.
type Broker struct {
	seed    maphash.Seed
	stripes [stripes]stripe

	// state is read without mu on every call; handler is written once,
	// before state becomes stateRunning.
	state   atomic.Int32
	handler herald.BrokerHandler
	ctlMu   sync.Mutex // serializes control deliveries against Close

	mu   sync.Mutex // guards starting and closing
	done chan struct{}
	wg   sync.WaitGroup

	// SweepInterval is how often expired histories and idempotency keys
	// are freed. Default one minute. Set it before Start.
	SweepInterval time.Duration
	now           func() time.Time
}

// stripe holds the channels whose names hash to it.
type stripe struct {
	mu      sync.Mutex
	streams map[string]*stream
	idem    map[idemKey]idemResult
}

// New returns a broker; call Start before publishing.
func New() *Broker {
	return &Broker{seed: maphash.MakeSeed(), SweepInterval: time.Minute, now: time.Now}
}

// ErrNotRunning is returned by every call but Subscribe and Unsubscribe
// before Start or after Close.
var ErrNotRunning = errors.New("memory broker: not running")

// Start begins delivering to h and frees expired histories in the
// background until Close.
func (b *Broker) Start(h herald.BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case stateRunning:
		return errors.New("memory broker: already started")
	case stateClosed:
		return errors.New("memory broker: closed")
	}
	b.handler, b.done = h, make(chan struct{})
	b.state.Store(stateRunning)
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

// Close stops the sweeper and waits for it and for deliveries in progress:
// once it returns, the handler is not called again and every call fails
// with ErrNotRunning. It must not be called from the handler.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.state.Swap(stateClosed) == stateRunning {
		close(b.done)
	}
	b.mu.Unlock()
	// Every delivery checks the state under a stripe lock or ctlMu, so
	// taking each of them once waits out the deliveries that began before
	// the state changed.
	for i := range b.stripes {
		b.stripes[i].mu.Lock()
		//lint:ignore SA2001 an empty critical section is the barrier
		b.stripes[i].mu.Unlock()
	}
	b.ctlMu.Lock()
	//lint:ignore SA2001 an empty critical section is the barrier
	b.ctlMu.Unlock()
	b.wg.Wait()
	return nil
}

func (b *Broker) running() bool { return b.state.Load() == stateRunning }

func (b *Broker) stripe(channel string) *stripe {
	return &b.stripes[maphash.String(b.seed, channel)%stripes]
}

// Publish appends to the channel's history (when it keeps one) and hands the
// publication to the handler, both under the channel's stripe lock, so that
// every subscriber sees one order, the offsets' order.
func (b *Broker) Publish(_ context.Context, channel string, data []byte, opts herald.PublishOptions) (herald.StreamPosition, error) {
	s := b.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !b.running() {
		return herald.StreamPosition{}, ErrNotRunning
	}
	now := b.now()
	idem := opts.IdempotencyKey != "" && opts.IdempotencyWindow > 0
	k := idemKey{channel, opts.IdempotencyKey}
	if idem {
		if pos, ok := s.idempotent(k, now); ok {
			return pos, nil
		}
	}
	pub := herald.Publication{Data: data, Origin: opts.Origin}
	if opts.HistorySize > 0 {
		st := s.stream(channel, now)
		if st == nil {
			st = s.newStream(channel, now.Add(opts.HistoryTTL))
		}
		pub.StreamPosition = st.append(data, opts.HistorySize, now.Add(opts.HistoryTTL))
	}
	if idem {
		s.remember(k, pub.StreamPosition, now.Add(opts.IdempotencyWindow))
	}
	b.handler.HandlePublication(channel, pub)
	return pub.StreamPosition, nil
}

// PublishJoin delivers a join event to the handler before returning. It
// runs under the channel's stripe lock, so it is ordered with the channel's
// publications.
func (b *Broker) PublishJoin(_ context.Context, channel string, c herald.ClientInfo) error {
	return b.deliverToChannel(channel, func(h herald.BrokerHandler) { h.HandleJoin(channel, c) })
}

// PublishLeave delivers a leave event, as PublishJoin.
func (b *Broker) PublishLeave(_ context.Context, channel string, c herald.ClientInfo) error {
	return b.deliverToChannel(channel, func(h herald.BrokerHandler) { h.HandleLeave(channel, c) })
}

func (b *Broker) deliverToChannel(channel string, deliver func(herald.BrokerHandler)) error {
	s := b.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !b.running() {
		return ErrNotRunning
	}
	deliver(b.handler)
	return nil
}

// PublishControl delivers a control message to the handler, the only node,
// before returning.
func (b *Broker) PublishControl(_ context.Context, data []byte) error {
	b.ctlMu.Lock()
	defer b.ctlMu.Unlock()
	if !b.running() {
		return ErrNotRunning
	}
	b.handler.HandleControl(data)
	return nil
}

// History returns the channel's position and a page of its kept
// publications. A channel without history gets one when opts.Stream keeps
// history, so that the epoch returned is the one its next publication gets.
func (b *Broker) History(_ context.Context, channel string, opts herald.HistoryOptions) (herald.HistoryResult, error) {
	s := b.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !b.running() {
		return herald.HistoryResult{}, ErrNotRunning
	}
	now := b.now()
	st := s.stream(channel, now)
	if st == nil {
		if opts.Stream.HistorySize <= 0 {
			return herald.HistoryResult{}, nil
		}
		st = s.newStream(channel, now.Add(opts.Stream.HistoryTTL))
	}
	return herald.HistoryResult{
		Publications:   st.page(opts.Since, opts.Limit, opts.Reverse),
		StreamPosition: st.position(),
	}, nil
}

// RemoveHistory drops the channel's kept publications; its offset and epoch
// go on until the history expires.
func (b *Broker) RemoveHistory(_ context.Context, channel string) error {
	s := b.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !b.running() {
		return ErrNotRunning
	}
	if st := s.stream(channel, b.now()); st != nil {
		st.clear()
	}
	return nil
}

// Subscribe is a no-op: in one process every publication reaches the hub,
// which drops those of channels without local subscribers.
func (b *Broker) Subscribe(context.Context, string) error { return nil }

// Unsubscribe is a no-op, as Subscribe.
func (b *Broker) Unsubscribe(context.Context, string) error { return nil }

// stream returns the channel's live history, or nil; an expired one is
// freed here rather than left for the sweeper, so that nobody reads it.
// The caller holds s.mu.
func (s *stripe) stream(channel string, now time.Time) *stream {
	st := s.streams[channel]
	if st != nil && st.expired(now) {
		delete(s.streams, channel)
		return nil
	}
	return st
}

// newStream starts a history for the channel, with a new epoch. The caller
// holds s.mu.
func (s *stripe) newStream(channel string, expireAt time.Time) *stream {
	if s.streams == nil {
		s.streams = make(map[string]*stream)
	}
	st := newStream(expireAt)
	s.streams[channel] = st
	return st
}

// sweep frees histories whose TTL has passed, so a channel nobody publishes
// to stops costing memory, and idempotency keys whose window has passed.
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
		for k, r := range s.idem {
			if now.After(r.expireAt) {
				delete(s.idem, k)
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
