package admin

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

// trace streams the lines of a trace as newline-delimited JSON until the
// client goes away.
func (a *api) trace(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := hub.TraceFilter{User: q.Get("user"), Client: q.Get("client"), Channel: q.Get("channel")}
	stream(w, r, func(ctx context.Context, lines chan<- hub.TraceLine) error { return a.hub.Trace(ctx, f, lines) })
}

// tap streams a channel's publications, after a tap_started line, as
// newline-delimited JSON until the client goes away.
func (a *api) tap(w http.ResponseWriter, r *http.Request) {
	channel := r.URL.Query().Get("channel")
	if channel == "" {
		writeError(w, http.StatusBadRequest, herald.ErrBadRequest, "say which channel to tap: ?channel=NAME")
		return
	}
	stream(w, r, func(ctx context.Context, lines chan<- hub.TapLine) error { return a.hub.Tap(ctx, channel, lines) })
}

// stream runs produce until the client goes away and writes each line it
// sends as one line of JSON, flushed at once. An error before the first
// line is answered as JSON with its status; the lines buffer (4096) is
// what produce drops beyond.
func stream[T any](w http.ResponseWriter, r *http.Request, produce func(context.Context, chan<- T) error) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, herald.ErrInternal, "this server cannot stream a response")
		return
	}
	lines := make(chan T, 4096)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- produce(ctx, lines) }()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: pass each line on at once
	started := false
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		select {
		case err := <-errc:
			if err != nil && !started {
				writeHeraldError(w, err)
			}
			return
		case line := <-lines:
			if !started {
				w.WriteHeader(http.StatusOK)
				started = true
			}
			if err := enc.Encode(line); err != nil {
				cancel()
				<-errc
				return
			}
			flusher.Flush()
		}
	}
}
