package hub

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldrt/herald/protocol"
)

func TestDrainPlanSpreadsLeavesAndReturns(t *testing.T) {
	const n = 1000
	drain, window := 5*time.Second, 20*time.Second
	plan := drainPlan(n, drain, window, true)
	for k, s := range plan {
		// The k-th client leaves in the k-th n-th of the drain and is
		// back in the k-th n-th of the window, never before it left.
		if lo, hi := drain*time.Duration(k)/n, drain*time.Duration(k+1)/n; s.leave < lo || s.leave > hi {
			t.Fatalf("client %d leaves at %s, want within [%s, %s]", k, s.leave, lo, hi)
		}
		if lo, hi := window*time.Duration(k)/n, window*time.Duration(k+1)/n; s.back < lo || s.back > hi {
			t.Fatalf("client %d is back at %s, want within [%s, %s]", k, s.back, lo, hi)
		}
		if s.back < s.leave {
			t.Fatalf("client %d is told to be back (%s) before it leaves (%s)", k, s.back, s.leave)
		}
	}
	for _, s := range drainPlan(10, drain, drain, false) {
		if s.back != 0 {
			t.Fatalf("without a window a client is advised %s", s.back)
		}
	}
	if p := drainPlan(3, 0, 0, true); p[0].leave != 0 || p[2].back != 0 {
		t.Fatalf("no drain and no window: %v, want all at once with no advice", p)
	}
}

// TestShutdownAdvisesReturnsOverTheWindow checks the pushes themselves:
// each shutdown disconnect carries reconnect_in, and the returns it
// implies (when it went out plus reconnect_in) cover the window.
func TestShutdownAdvisesReturnsOverTheWindow(t *testing.T) {
	const n = 40
	window := 2 * time.Second
	h := newTestHub(t, Config{ReconnectWindow: window})
	ts := acceptOpen(t, h, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var latest time.Duration
	for i, g := range ts {
		w, _ := g.snapshot()
		if len(w) != 1 {
			t.Fatalf("transport %d got %v, want the disconnect push", i, w)
		}
		var p protocol.Push
		if err := json.Unmarshal([]byte(w[0][0]), &p); err != nil || p.Disconnect == nil {
			t.Fatalf("transport %d got %s: %v", i, w[0][0], err)
		}
		in := time.Duration(p.Disconnect.ReconnectIn) * time.Millisecond
		if in > window {
			t.Fatalf("transport %d told to come back in %s, past the %s window", i, in, window)
		}
		latest = max(latest, in)
	}
	// The last of 40 slots starts at 39/40 of the window; its push went
	// out within the 100ms drain.
	if latest < window/2 {
		t.Fatalf("the latest advised return is %s, want the returns spread over the %s window", latest, window)
	}
}
