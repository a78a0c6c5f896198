package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/brokertest"
)

// clock is a time the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// start returns a running broker on a hand-moved clock, closed at the end
// of the test.
func start(t *testing.T) (*Broker, *brokertest.Recorder, *clock) {
	t.Helper()
	b, r, c := New(), &brokertest.Recorder{}, &clock{now: time.Unix(1000, 0)}
	b.now = c.Now
	if err := b.Start(r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, r, c
}

func TestNotRunning(t *testing.T) {
	ctx := context.Background()
	c := herald.ClientInfo{Client: "c"}
	calls := map[string]func(b *Broker) error{
		"Publish": func(b *Broker) error {
			_, err := b.Publish(ctx, "a", []byte("1"), herald.PublishOptions{})
			return err
		},
		"PublishJoin":    func(b *Broker) error { return b.PublishJoin(ctx, "a", c) },
		"PublishLeave":   func(b *Broker) error { return b.PublishLeave(ctx, "a", c) },
		"PublishControl": func(b *Broker) error { return b.PublishControl(ctx, []byte("{}")) },
		"History": func(b *Broker) error {
			_, err := b.History(ctx, "a", herald.HistoryOptions{})
			return err
		},
		"RemoveHistory": func(b *Broker) error { return b.RemoveHistory(ctx, "a") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			b := New()
			if err := call(b); err != ErrNotRunning {
				t.Fatalf("before Start: %v", err)
			}
			r := &brokertest.Recorder{}
			_ = b.Start(r)
			b.Close()
			if err := call(b); err != ErrNotRunning {
				t.Fatalf("after Close: %v", err)
			}
			if err := b.Start(r); err == nil {
				t.Fatal("Start after Close succeeded")
			}
		})
	}
}

func TestOffsetsWithAndWithoutHistory(t *testing.T) {
	b, r, _ := start(t)
	ctx := context.Background()
	hist := herald.PublishOptions{HistorySize: 3, HistoryTTL: time.Minute}
	var epoch string
	for i := uint64(1); i <= 5; i++ {
		pos, err := b.Publish(ctx, "h", []byte("1"), hist)
		if err != nil || pos.Offset != i || pos.Epoch == "" || (epoch != "" && pos.Epoch != epoch) {
			t.Fatalf("publish %d: %+v %v", i, pos, err)
		}
		epoch = pos.Epoch
	}
	pos, _ := b.Publish(ctx, "plain", []byte("1"), herald.PublishOptions{})
	if pos != (herald.StreamPosition{}) {
		t.Fatalf("no history, got %+v", pos)
	}
	if pubs := r.Publications("h"); len(pubs) != 5 || pubs[4].Offset != 5 {
		t.Fatalf("delivered %+v", pubs)
	}
}

func TestPublishCopiesOrigin(t *testing.T) {
	b, r, _ := start(t)
	if _, err := b.Publish(context.Background(), "o", []byte("1"), herald.PublishOptions{Origin: "c1"}); err != nil {
		t.Fatal(err)
	}
	if pubs := r.Publications("o"); len(pubs) != 1 || pubs[0].Origin != "c1" {
		t.Fatalf("delivered %+v, want origin c1", pubs)
	}
}

// A history that expires is freed, and the next publication starts a new
// one with a new epoch, so an old offset cannot be mistaken for a new one.
func TestHistoryExpiresWithNewEpoch(t *testing.T) {
	b, _, c := start(t)
	opts := herald.PublishOptions{HistorySize: 2, HistoryTTL: time.Minute}
	first, _ := b.Publish(context.Background(), "h", []byte("1"), opts)
	if b.Streams() != 1 {
		t.Fatal("no stream kept")
	}
	c.Add(2 * time.Minute)
	b.sweep()
	if b.Streams() != 0 {
		t.Fatal("an expired history was not freed")
	}
	next, _ := b.Publish(context.Background(), "h", []byte("2"), opts)
	if next.Offset != 1 || next.Epoch == first.Epoch {
		t.Fatalf("after expiry got %+v, first was %+v", next, first)
	}
}

// A stream made by History expires like one made by Publish, and is not
// kept alive by reading it.
func TestHistoryCreatedStreamExpires(t *testing.T) {
	b, _, c := start(t)
	opts := herald.HistoryOptions{Stream: herald.PublishOptions{HistorySize: 2, HistoryTTL: time.Minute}}
	first, _ := b.History(context.Background(), "h", opts)
	c.Add(45 * time.Second)
	if again, _ := b.History(context.Background(), "h", opts); again.StreamPosition != first.StreamPosition {
		t.Fatalf("within the TTL got %+v, want %+v", again.StreamPosition, first.StreamPosition)
	}
	c.Add(45 * time.Second)
	b.sweep()
	if b.Streams() != 0 {
		t.Fatal("a history made by History and never published to was not freed")
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	since := func(off uint64) *herald.StreamPosition { return &herald.StreamPosition{Offset: off} }
	tests := []struct {
		name string
		// size and n: publish "1".."n" keeping size.
		size, n int
		// then, before reading.
		then func(b *Broker, c *clock)
		opts herald.HistoryOptions
		// wantTop is the position's offset; newEpoch, whether its epoch
		// differs from the publications'.
		wantTop  uint64
		newEpoch bool
		want     []uint64
	}{
		{name: "forward", size: 10, n: 5, opts: herald.HistoryOptions{Limit: 3}, wantTop: 5, want: []uint64{1, 2, 3}},
		{name: "reverse", size: 10, n: 5, opts: herald.HistoryOptions{Limit: 3, Reverse: true}, wantTop: 5, want: []uint64{5, 4, 3}},
		{name: "since in the middle", size: 10, n: 5, opts: herald.HistoryOptions{Limit: 10, Since: since(2)}, wantTop: 5, want: []uint64{3, 4, 5}},
		{name: "reverse since in the middle", size: 10, n: 5, opts: herald.HistoryOptions{Limit: 10, Since: since(3), Reverse: true}, wantTop: 5, want: []uint64{2, 1}},
		{name: "since beyond top", size: 10, n: 5, opts: herald.HistoryOptions{Limit: 10, Since: since(7)}, wantTop: 5},
		{name: "limit 0", size: 10, n: 5, opts: herald.HistoryOptions{}, wantTop: 5},
		{name: "after wrap", size: 3, n: 7, opts: herald.HistoryOptions{Limit: 10, Since: since(1)}, wantTop: 7, want: []uint64{5, 6, 7}},
		{name: "after wrap, reverse", size: 3, n: 7, opts: herald.HistoryOptions{Limit: 2, Reverse: true}, wantTop: 7, want: []uint64{7, 6}},
		{
			name: "after RemoveHistory", size: 10, n: 5,
			then: func(b *Broker, _ *clock) { b.RemoveHistory(ctx, "ch") },
			opts: herald.HistoryOptions{Limit: 10}, wantTop: 5,
		},
		{
			name: "within the TTL", size: 10, n: 5,
			then: func(_ *Broker, c *clock) { c.Add(time.Minute) },
			opts: herald.HistoryOptions{Limit: 1}, wantTop: 5, want: []uint64{1},
		},
		{
			name: "after expiry, not swept", size: 10, n: 5,
			then: func(_ *Broker, c *clock) { c.Add(time.Minute + 1) },
			opts: herald.HistoryOptions{Limit: 10},
		},
		{
			name: "after expiry, with stream options: new epoch", size: 10, n: 5,
			then:     func(_ *Broker, c *clock) { c.Add(time.Minute + 1) },
			opts:     herald.HistoryOptions{Limit: 10, Stream: herald.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}},
			newEpoch: true,
		},
		{
			name: "after expiry and sweep, with stream options: new epoch", size: 10, n: 5,
			then:     func(b *Broker, c *clock) { c.Add(time.Minute + 1); b.sweep() },
			opts:     herald.HistoryOptions{Limit: 10, Stream: herald.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}},
			newEpoch: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _, c := start(t)
			var epoch string
			for i := 1; i <= tt.n; i++ {
				pos, err := b.Publish(ctx, "ch", []byte(fmt.Sprint(i)), herald.PublishOptions{HistorySize: tt.size, HistoryTTL: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				epoch = pos.Epoch
			}
			if tt.then != nil {
				tt.then(b, c)
			}
			res, err := b.History(ctx, "ch", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case res.Offset != tt.wantTop:
				t.Fatalf("top %d, want %d", res.Offset, tt.wantTop)
			case tt.newEpoch && (res.Epoch == "" || res.Epoch == epoch):
				t.Fatalf("epoch %q, want a new one (old %q)", res.Epoch, epoch)
			case !tt.newEpoch && tt.wantTop == 0 && res.Epoch != "":
				t.Fatalf("epoch %q of a lost history, want none", res.Epoch)
			case !tt.newEpoch && tt.wantTop > 0 && res.Epoch != epoch:
				t.Fatalf("epoch %q, want %q", res.Epoch, epoch)
			}
			var got []uint64
			for _, p := range res.Publications {
				if p.Epoch != epoch || string(p.Data) != fmt.Sprint(p.Offset) {
					t.Fatalf("publication %+v (data %s)", p.StreamPosition, p.Data)
				}
				got = append(got, p.Offset)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("offsets %v, want %v", got, tt.want)
			}
			if tt.newEpoch {
				// The epoch History returned is the next publication's.
				pos, _ := b.Publish(ctx, "ch", []byte("1"), herald.PublishOptions{HistorySize: tt.size, HistoryTTL: time.Minute})
				if pos != (herald.StreamPosition{Offset: 1, Epoch: res.Epoch}) {
					t.Fatalf("next publication at %+v, want offset 1 in %q", pos, res.Epoch)
				}
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	ctx := context.Background()
	hist := herald.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour}
	keyed := func(key string, window time.Duration) herald.PublishOptions {
		o := hist
		o.IdempotencyKey, o.IdempotencyWindow = key, window
		return o
	}
	tests := []struct {
		name string
		// first and second publish with these options, advancing the
		// clock by wait in between (and sweeping if sweep).
		first, second herald.PublishOptions
		wait          time.Duration
		sweep         bool
		// same: the second returns the first's position without delivery.
		same bool
	}{
		{name: "same key", first: keyed("k", time.Minute), second: keyed("k", time.Minute), same: true},
		{name: "same key at the end of the window", first: keyed("k", time.Minute), second: keyed("k", time.Minute), wait: time.Minute, same: true},
		{name: "same key after the window", first: keyed("k", time.Minute), second: keyed("k", time.Minute), wait: time.Minute + 1},
		{name: "same key after the window, swept", first: keyed("k", time.Minute), second: keyed("k", time.Minute), wait: time.Minute + 1, sweep: true},
		{name: "other key", first: keyed("k", time.Minute), second: keyed("j", time.Minute)},
		{name: "no key", first: hist, second: hist},
		{name: "retry without key", first: keyed("k", time.Minute), second: hist},
		{name: "no window", first: keyed("k", 0), second: keyed("k", 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, r, c := start(t)
			first, _ := b.Publish(ctx, "ch", []byte("1"), tt.first)
			c.Add(tt.wait)
			if tt.sweep {
				b.sweep()
			}
			second, _ := b.Publish(ctx, "ch", []byte("2"), tt.second)
			pubs := r.Publications("ch")
			if tt.same {
				if second != first || len(pubs) != 1 {
					t.Fatalf("retry at %+v with %d deliveries, want %+v and 1", second, len(pubs), first)
				}
				return
			}
			if second.Offset != first.Offset+1 || len(pubs) != 2 {
				t.Fatalf("second at %+v with %d deliveries, want offset %d and 2", second, len(pubs), first.Offset+1)
			}
		})
	}
}

func TestSweepFreesIdempotencyKeys(t *testing.T) {
	b, _, c := start(t)
	for i := range 100 {
		opts := herald.PublishOptions{IdempotencyKey: fmt.Sprint(i), IdempotencyWindow: time.Minute}
		if _, err := b.Publish(context.Background(), fmt.Sprint("ch", i%7), []byte("1"), opts); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.idempotencyKeys(); n != 100 {
		t.Fatalf("%d keys kept, want 100", n)
	}
	c.Add(time.Minute + 1)
	b.sweep()
	if n := b.idempotencyKeys(); n != 0 {
		t.Fatalf("%d keys kept after the window, want 0", n)
	}
}

func (b *Broker) idempotencyKeys() int {
	n := 0
	for i := range b.stripes {
		s := &b.stripes[i]
		s.mu.Lock()
		n += len(s.idem)
		s.mu.Unlock()
	}
	return n
}

// Joins, leaves and control messages reach the handler before the call
// returns.
func TestJoinLeaveControlSynchronous(t *testing.T) {
	b, r, _ := start(t)
	ctx := context.Background()
	c := herald.ClientInfo{Client: "c1", User: "ann"}
	if err := b.PublishJoin(ctx, "ch", c); err != nil || len(r.Joins("ch")) != 1 {
		t.Fatalf("join: %v, %d delivered", err, len(r.Joins("ch")))
	}
	if err := b.PublishLeave(ctx, "ch", c); err != nil || len(r.Leaves("ch")) != 1 {
		t.Fatalf("leave: %v, %d delivered", err, len(r.Leaves("ch")))
	}
	if err := b.PublishControl(ctx, []byte("{}")); err != nil || len(r.Controls()) != 1 {
		t.Fatalf("control: %v, %d delivered", err, len(r.Controls()))
	}
}

func TestConcurrentPublishersGetDistinctOffsets(t *testing.T) {
	b, r, _ := start(t)
	opts := herald.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := b.Publish(context.Background(), "c", []byte("1"), opts); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for i, p := range r.Publications("c") {
		if p.Offset != uint64(i+1) {
			t.Fatalf("delivery %d has offset %d: deliveries must follow offsets", i, p.Offset)
		}
	}
}

// Close waits for deliveries in progress: none comes after it returns.
func TestNoDeliveryAfterClose(t *testing.T) {
	b := New()
	var closed sync.WaitGroup
	h := &afterClose{t: t}
	_ = b.Start(h)
	closed.Add(1)
	go func() {
		defer closed.Done()
		for {
			if _, err := b.Publish(context.Background(), "c", []byte("1"), herald.PublishOptions{}); err != nil {
				return
			}
		}
	}()
	for h.count() < 10 {
		time.Sleep(time.Millisecond)
	}
	b.Close()
	h.setClosed()
	closed.Wait()
}

type afterClose struct {
	brokertest.Recorder
	t      *testing.T
	mu     sync.Mutex
	n      int
	closed bool
}

func (h *afterClose) HandlePublication(string, herald.Publication) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		h.t.Error("delivered after Close returned")
	}
	h.n++
}

func (h *afterClose) count() int { h.mu.Lock(); defer h.mu.Unlock(); return h.n }
func (h *afterClose) setClosed() { h.mu.Lock(); defer h.mu.Unlock(); h.closed = true }
