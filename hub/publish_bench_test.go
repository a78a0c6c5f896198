package hub_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
)

// BenchmarkPublishCall measures how long hub.Publish takes to return to a
// channel of 10,000 subscribers, the time an API publish waits: "idle"
// publishes once the previous publication has reached every subscriber,
// "busy" as soon as the previous call returned, so that it meets the
// previous fan-out still running (up to 16 publications in flight). One op is one publication; p50-µs and
// p99-µs are the call's latency percentiles.
func BenchmarkPublishCall(b *testing.B) {
	b.Run("subs=10000/idle", func(b *testing.B) { benchPublishCall(b, 10_000, true) })
	b.Run("subs=10000/busy", func(b *testing.B) { benchPublishCall(b, 10_000, false) })
}

func benchPublishCall(b *testing.B, subs int, idle bool) {
	h, c := startBench(b, subs)
	defer h.close()

	ctx := context.Background()
	data := []byte(`{"text":"hello","n":42}`)
	var lat []time.Duration
	var want int64
	if !idle {
		c.want.Store(1 << 62) // no wake-ups while publishing
	}
	for b.Loop() {
		want += int64(subs)
		var done <-chan struct{}
		if idle {
			done = c.expect(want)
		}
		start := time.Now()
		if _, err := h.Publish(ctx, "bench", data, hub.PublishRequest{Source: "api"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if idle {
			<-done
			continue
		}
		// Keep up to 16 publications in flight: the next publish meets a
		// fan-out under way, and the benchmark does not outrun the writers.
		for c.delivered.Load() < want-16*int64(subs) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	// Every publication reaches every subscriber before the next round.
	for deadline := time.Now().Add(time.Minute); c.delivered.Load() < want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries made", c.delivered.Load(), want)
		}
	}
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
