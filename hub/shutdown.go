package hub

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/heraldrt/herald"
)

// Shutdown refuses new sessions and tells every client to reconnect (code
// shutdown), spread over drain so that they do not all come back to the
// next node at once. With Config.ReconnectWindow each is also told when to
// come back (reconnect_in): the returns are spread evenly over the window,
// counted from now, rather than over the drain plus each client's backoff.
// It returns when every session has ended, or closes what is left when ctx
// ends.
func (h *Hub) Shutdown(ctx context.Context, drain time.Duration) error {
	h.draining.Store(true)
	if h.reg.numConns() == 0 {
		h.signalEmpty()
	}
	start := time.Now()
	var conns []*Session
	h.reg.eachConn(func(s *Session) { conns = append(conns, s) })
	plan := drainPlan(len(conns), drain, max(h.cfg.ReconnectWindow, drain), h.cfg.ReconnectWindow > 0)
	rand.Shuffle(len(conns), func(i, j int) { conns[i], conns[j] = conns[j], conns[i] })
	// back is when session k should return, counted from start; what it
	// is told is what is left of that when its disconnect goes out.
	tell := func(k int) {
		in := time.Duration(0)
		if plan[k].back > 0 {
			in = max(0, plan[k].back-time.Since(start))
		}
		conns[k].disconnectIn(herald.DisconnectShutdown, in)
	}
	timers := make([]*time.Timer, len(conns))
	for k := range conns {
		timers[k] = time.AfterFunc(plan[k].leave, func() { tell(k) })
	}
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	select {
	case <-h.closed:
		return nil
	case <-ctx.Done():
		for k, t := range timers {
			if t.Stop() {
				tell(k)
			}
		}
		// Sessions that arrived while the drain began.
		h.reg.eachConn(func(s *Session) { s.Disconnect(herald.DisconnectShutdown) })
		return errors.New("hub: shutdown timed out; closed the remaining connections")
	}
}

// slot is when one client is disconnected (leave) and when it is advised
// to be back (back; 0: no advice), both counted from the start of the drain.
type slot struct{ leave, back time.Duration }

// drainPlan gives n clients their slots: the k-th leaves at a random point
// of the k-th n-th of drain and is back at a random point of the k-th n-th
// of window. Stratified rather than independent draws, so no stretch of
// either window gets a clump, and pairing by rank keeps each return after
// its leave (window is at least drain) while spreading the returns over
// the whole window.
func drainPlan(n int, drain, window time.Duration, advise bool) []slot {
	plan := make([]slot, n)
	within := func(d time.Duration, k int) time.Duration {
		if d <= 0 {
			return 0
		}
		step := float64(d) / float64(n)
		return time.Duration(step * (float64(k) + rand.Float64()))
	}
	for k := range plan {
		plan[k].leave = within(drain, k)
		if advise {
			plan[k].back = max(plan[k].leave, within(window, k))
		}
	}
	return plan
}
