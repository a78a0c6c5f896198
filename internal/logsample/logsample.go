// Package logsample keeps a flood of identical log lines from flooding the
// log: a slog.Handler that passes the first Burst records with the same
// level and message in each Interval, drops the rest, and says how many it
// dropped with the first record of that message after the interval.
package logsample

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Options configure the sampling. Zero fields take the defaults noted.
type Options struct {
	// Burst is how many records with one message pass per Interval. Default 10.
	Burst int
	// Interval is the window Burst counts over. Default 1s.
	Interval time.Duration
}

// Handler samples records before handing them to the next handler.
type Handler struct {
	next slog.Handler
	opts Options
	st   *state // shared by the handlers WithAttrs and WithGroup derive
}

type state struct {
	mu   sync.Mutex
	keys map[key]*window
	now  func() time.Time
}

type key struct {
	level slog.Level
	msg   string
}

type window struct {
	start   time.Time
	n       int
	dropped int
}

// New wraps next.
func New(next slog.Handler, opts Options) *Handler {
	if opts.Burst <= 0 {
		opts.Burst = 10
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	return &Handler{next: next, opts: opts, st: &state{keys: map[key]*window{}, now: time.Now}}
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	k := key{r.Level, r.Message}
	now := h.st.now()
	h.st.mu.Lock()
	w := h.st.keys[k]
	if w == nil {
		if len(h.st.keys) > 10000 {
			// Messages with variable text: forget old windows rather than grow.
			clear(h.st.keys)
		}
		w = &window{start: now}
		h.st.keys[k] = w
	}
	dropped := 0
	if now.Sub(w.start) >= h.opts.Interval {
		dropped = w.dropped
		w.start, w.n, w.dropped = now, 0, 0
	}
	w.n++
	pass := w.n <= h.opts.Burst
	if !pass {
		w.dropped++
	}
	h.st.mu.Unlock()
	if !pass {
		return nil
	}
	if dropped > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", dropped))
	}
	return h.next.Handle(ctx, r)
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), opts: h.opts, st: h.st}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), opts: h.opts, st: h.st}
}
