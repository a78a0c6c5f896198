// Package admin is Herald's operator API and web UI, behind the admin
// secret. The API (under /admin/api/) answers for every node: the nodes
// and their counts, the channels with their subscribers, the connections
// with their timelines, disconnects by code per minute, a live trace of
// matching connections' frames, a live tap of a channel's publications,
// and a publish. The UI (under /admin/, files in static/) is a page built
// on that API alone. docs/admin.md describes both; `herald trace` is the
// trace's command-line client.
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
	Nodes() []hub.NodeInfo
	SurveyChannels(ctx context.Context, pattern string) (hub.ChannelsResult, error)
	SurveyConnections(ctx context.Context, q hub.ConnQuery) (hub.ConnectionsResult, error)
	SurveyDisconnects(ctx context.Context, minutes int) (hub.DisconnectsResult, error)
	Trace(ctx context.Context, f hub.TraceFilter, lines chan<- hub.TraceLine) error
	Tap(ctx context.Context, channel string, lines chan<- hub.TapLine) error
	Publish(ctx context.Context, channel string, data []byte, req hub.PublishRequest) (herald.StreamPosition, error)
}

var _ Hub = (*hub.Hub)(nil)

// Options configure the admin API.
type Options struct {
	// Secret is the admin secret, sent as "Authorization: admin SECRET".
	// Empty refuses every request: connections' timelines name users and
	// addresses, so this API is never open by default.
	Secret string
	// MaxBodySize caps a publish's body. Default 1 MiB.
	MaxBodySize int64
	// Logger receives the API's logs. Default slog.Default().
	Logger *slog.Logger
}

// NewHandler returns the handler for /admin/api/.
func NewHandler(opts Options, h Hub) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = 1 << 20
	}
	a := &api{hub: h, log: opts.Logger, maxBody: opts.MaxBodySize}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/api/nodes", a.nodes)
	mux.HandleFunc("GET /admin/api/channels", a.channels)
	mux.HandleFunc("GET /admin/api/connections", a.connections)
	mux.HandleFunc("GET /admin/api/disconnects", a.disconnects)
	mux.HandleFunc("GET /admin/api/trace", a.trace)
	mux.HandleFunc("GET /admin/api/tap", a.tap)
	mux.HandleFunc("POST /admin/api/publish", a.publish)
	mux.HandleFunc("/admin/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, herald.ErrBadRequest, "no admin endpoint "+r.Method+" "+r.URL.Path+": see docs/admin.md")
	})
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
	hub     Hub
	log     *slog.Logger
	maxBody int64
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
		writeHeraldError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func writeHeraldError(w http.ResponseWriter, err error) {
	e := herald.AsError(err)
	writeError(w, e.Code.HTTPStatus(), e.Code, e.Error())
}

func writeError(w http.ResponseWriter, status int, code herald.ErrorCode, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
