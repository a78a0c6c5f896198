package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
)

// BenchmarkFanoutTrace is BenchmarkFanout's 1,000 subscribers with no
// trace, and with one of them traced: the 999 others pay one atomic load
// per message for the trace, and the traced one its redaction and
// control message (which then dominate ns/op, spread over 1,000
// deliveries in ns/delivery).
func BenchmarkFanoutTrace(b *testing.B) {
	for _, traced := range []bool{false, true} {
		b.Run(fmt.Sprintf("traced=%v", traced), func(b *testing.B) { benchFanoutTrace(b, traced) })
	}
}

func benchFanoutTrace(b *testing.B, traced bool) {
	const subs = 1000
	h, c := startBench(b, subs)
	defer h.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if traced {
		lines := make(chan hub.TraceLine, 1<<16)
		go func() {
			defer close(done)
			_ = h.Trace(ctx, hub.TraceFilter{Client: h.sessions[0].(*hub.Session).ID()}, lines)
		}()
		select {
		case <-lines: // trace_started: the session is marked
		case <-time.After(30 * time.Second):
			b.Fatal("the trace did not start")
		}
		go drain(lines, done)
	} else {
		close(done)
	}
	defer func() { cancel(); <-done }()
	publishToAll(b, h, c, subs)
}

// drain reads lines until done closes, as the admin API does.
func drain[T any](lines <-chan T, done <-chan struct{}) {
	for {
		select {
		case <-lines:
		case <-done:
			return
		}
	}
}

// publishToAll publishes to "bench" until the benchmark's end, each time
// waiting for its subs subscribers to have it, and reports ns/delivery.
func publishToAll(b *testing.B, h *benchHub, c *counter, subs int64) {
	data := []byte(`{"text":"hello","n":42}`)
	var want int64
	b.ReportAllocs()
	for b.Loop() {
		want += subs
		reached := c.expect(want)
		if _, err := h.Publish(context.Background(), "bench", data, hub.PublishRequest{Source: "api"}); err != nil {
			b.Fatal(err)
		}
		<-reached
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*int(subs)), "ns/delivery")
}

// BenchmarkTimeline measures recording one event in a connection's
// timeline (the rare events: connect, subscribe, refresh, disconnect).
func BenchmarkTimeline(b *testing.B) {
	h, _ := startBench(b, 1)
	defer h.close()
	s := h.sessions[0].(*hub.Session)
	b.ReportAllocs()
	for b.Loop() {
		hub.RecordEventForBench(s)
	}
}
