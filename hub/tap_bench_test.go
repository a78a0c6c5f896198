package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
)

// BenchmarkFanoutTap is BenchmarkFanout's 1,000 subscribers with no tap
// on the node, with a tap on another channel (the fan-out of "bench" pays
// one atomic load and one map lookup), and with "bench" itself tapped
// (one more channel send per publication).
func BenchmarkFanoutTap(b *testing.B) {
	for _, tc := range []struct{ name, channel string }{{"tap=none", ""}, {"tap=other", "elsewhere"}, {"tap=same", "bench"}} {
		b.Run(tc.name, func(b *testing.B) { benchFanoutTap(b, tc.channel) })
	}
}

func benchFanoutTap(b *testing.B, channel string) {
	const subs = 1000
	h, c := startBench(b, subs)
	defer h.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if channel != "" {
		lines := make(chan hub.TapLine, 1<<16)
		go func() {
			defer close(done)
			_ = h.Tap(ctx, channel, lines)
		}()
		select {
		case <-lines: // tap_started
		case <-time.After(30 * time.Second):
			b.Fatal("the tap did not start")
		}
		go drain(lines, done)
	} else {
		close(done)
	}
	defer func() { cancel(); <-done }()
	publishToAll(b, h, c, subs)
}
