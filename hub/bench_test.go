package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
)

// counter counts the messages every discardTransport of one benchmark has
// been handed and wakes the benchmark when the count reaches want.
type counter struct {
	delivered atomic.Int64
	want      atomic.Int64
	reached   chan struct{}
}

func (c *counter) add(n int64) {
	total := c.delivered.Add(n)
	if w := c.want.Load(); total >= w && total-n < w {
		c.reached <- struct{}{}
	}
}

// expect arms the counter for want messages in all and returns a channel
// that receives once they have all been written. Arm it before causing the
// writes, so that exactly one Write crosses want.
func (c *counter) expect(want int64) <-chan struct{} {
	c.want.Store(want)
	return c.reached
}

// discardTransport is a herald.Transport that counts what it is asked to
// write and does no I/O, so that the benchmark measures the hub alone.
type discardTransport struct {
	c     *counter
	bytes atomic.Int64
}

func (t *discardTransport) Name() string { return "discard" }

func (t *discardTransport) Write(msgs [][]byte) error {
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	t.bytes.Add(int64(n + len(msgs) - 1))
	t.c.add(int64(len(msgs)))
	return nil
}

func (t *discardTransport) Close(herald.Disconnect) error { return nil }

// BenchmarkFanout measures one hub.Publish until the publication has been
// handed to the transport of every subscriber: encoding, queueing, starting
// each connection's writer and its Write. One op is one publication; the
// ns/delivery metric divides by the number of subscribers.
func BenchmarkFanout(b *testing.B) {
	for _, subs := range []int{1, 1_000, 10_000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) { benchFanout(b, subs) })
	}
}

func benchFanout(b *testing.B, subs int) {
	h, c := startBench(b, subs)
	defer h.close()

	ctx := context.Background()
	data := []byte(`{"text":"hello","n":42}`)
	var want int64
	b.ReportAllocs()
	for b.Loop() {
		want += int64(subs)
		done := c.expect(want)
		if _, err := h.Publish(ctx, "bench", data, hub.PublishRequest{Source: "api"}); err != nil {
			b.Fatal(err)
		}
		<-done
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*int64(subs)), "ns/delivery")
}

func waitFor(b *testing.B, done <-chan struct{}) {
	b.Helper()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatal("the sessions' replies were not all written")
	}
}

// benchHub is a hub with subs sessions subscribed to the channel bench,
// on discard transports, their replies all written.
type benchHub struct {
	*hub.Hub
	sessions []herald.Session
}

func startBench(b *testing.B, subs int) (*benchHub, *counter) {
	b.Helper()
	h := hub.New(hub.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, memory.New())
	if err := h.Start(); err != nil {
		b.Fatal(err)
	}
	c := &counter{reached: make(chan struct{}, 1)}
	// Both replies of every session must be out before counting publications.
	setup := c.expect(int64(2 * subs))
	bh := &benchHub{Hub: h, sessions: make([]herald.Session, subs)}
	for i := range bh.sessions {
		s, err := h.Accept(&discardTransport{c: c}, herald.ConnInfo{RemoteAddr: "127.0.0.1:1"})
		if err != nil {
			b.Fatal(err)
		}
		s.HandleFrame([]byte(`{"id":1,"connect":{}}`))
		s.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"bench"}}`))
		bh.sessions[i] = s
	}
	waitFor(b, setup)
	c.want.Store(0)
	c.delivered.Store(0)
	return bh, c
}

func (h *benchHub) close() {
	for _, s := range h.sessions {
		s.HandleClose(nil)
	}
	_ = h.Close()
}
