// Package admin is Herald's operator API, behind the admin secret: the
// connections of every node with their timelines (GET
// /admin/api/connections) and a live trace of matching connections' frames
// (GET /admin/api/trace, newline-delimited JSON). docs/admin.md describes
// both; `herald trace` is the trace's command-line client.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

// Hub is what the admin API asks: the hub surveys every node.
type Hub interface {
	SurveyConnections(ctx context.Context, q hub.ConnQuery) (hub.ConnectionsResult, error)
	Trace(ctx context.Context, f hub.TraceFilter, lines chan<- hub.TraceLine) error
}

// Options configure the admin API.
type Options struct {
	// Secret is the admin secret, sent as "Authorization: admin SECRET".
	// Empty refuses every request: connections' timelines name users and
	// addresses, so this API is never open by default.
	Secret string
	// Logger receives the API's logs. Default slog.Default().
	Logger *slog.Logger
}

// NewHandler returns the handler for /admin/api/.
func NewHandler(opts Options, h Hub) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &api{hub: h, log: opts.Logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/api/connections", a.connections)
	mux.HandleFunc("GET /admin/api/trace", a.trace)
	return Guard(opts.Secret, mux)
}

// Guard lets through only requests that carry the admin secret, compared
// in constant time; with no secret configured it refuses them all.
func Guard(secret string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(secret))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secret == "" {
			writeError(w, http.StatusForbidden, herald.ErrUnauthorized, "the admin API is off until admin.secret (HERALD_ADMIN_SECRET) is set")
			return
		}
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "admin") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			writeError(w, http.StatusUnauthorized, herald.ErrUnauthorized, `send the header "Authorization: admin <secret>" (admin.secret)`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type api struct {
	hub Hub
	log *slog.Logger
}

func (a *api) connections(w http.ResponseWriter, r *http.Request) {
	q := hub.ConnQuery{User: r.URL.Query().Get("user"), Client: r.URL.Query().Get("client")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, herald.ErrBadRequest, "limit must be a positive number of connections per node")
			return
		}
		q.Limit = n
	}
	res, err := a.hub.SurveyConnections(r.Context(), q)
	if err != nil {
		e := herald.AsError(err)
		writeError(w, e.Code.HTTPStatus(), e.Code, e.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func writeError(w http.ResponseWriter, status int, code herald.ErrorCode, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// trace streams the lines of a trace as newline-delimited JSON until the
// client goes away.
func (a *api) trace(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := hub.TraceFilter{User: q.Get("user"), Client: q.Get("client"), Channel: q.Get("channel")}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, herald.ErrInternal, "this server cannot stream a response")
		return
	}
	lines := make(chan hub.TraceLine, 4096)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- a.hub.Trace(ctx, f, lines) }()
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
				e := herald.AsError(err)
				writeError(w, e.Code.HTTPStatus(), e.Code, e.Error())
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
