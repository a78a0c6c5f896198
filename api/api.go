// Package api is Herald's server HTTP API, for application backends:
// POST /api/<method> with a JSON body, authenticated with the header
// "Authorization: apikey <key>". Errors are JSON {"error":{"code","message"}}
// with the HTTP status the code maps to in codes.json. docs/api.md lists
// the methods.
package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/metrics"
)

// Hub is what the API calls on: the hub validates channels and targets
// and applies the namespaces' options, so the API only decodes requests and
// shapes answers.
type Hub interface {
	Publish(ctx context.Context, channel string, data []byte, req hub.PublishRequest) (herald.StreamPosition, error)
	Broadcast(ctx context.Context, channels []string, data []byte, req hub.PublishRequest) ([]herald.StreamPosition, []error, error)
	History(ctx context.Context, channel string, q hub.HistoryQuery) (herald.HistoryResult, error)
	RemoveHistory(ctx context.Context, channel string) error
	Presence(ctx context.Context, channel string) (map[string]herald.ClientInfo, error)
	PresenceStats(ctx context.Context, channel string) (herald.PresenceStats, error)
	SubscribeTarget(ctx context.Context, t hub.Target, channel string) error
	UnsubscribeTarget(ctx context.Context, t hub.Target, channel string) error
	DisconnectTarget(ctx context.Context, t hub.Target, d herald.Disconnect) error
	SurveyChannels(ctx context.Context, pattern string) (hub.ChannelsResult, error)
	Nodes() []hub.NodeInfo
}

var _ Hub = (*hub.Hub)(nil)

// method is one API method: it decodes its JSON body and returns the
// value to answer with.
type method func(ctx context.Context, body []byte) (any, error)

// Options configure the API. Zero fields take the defaults noted.
type Options struct {
	// Key is the API key. Empty disables the API: every call gets 401.
	Key string
	// MaxBodySize caps a request body. Default 1 MiB.
	MaxBodySize int64
	// Logger receives the API's logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics counts requests.
	Metrics *metrics.Metrics
}

// Handler serves the API under /api/.
type Handler struct {
	opts    Options
	keyHash [32]byte
	hub     Hub
	methods map[string]method
}

// NewHandler returns the API handler; mount it at /api/.
func NewHandler(opts Options, hb Hub) *Handler {
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	h := &Handler{opts: opts, keyHash: sha256.Sum256([]byte(opts.Key)), hub: hb}
	h.methods = map[string]method{
		"publish":        h.publish,
		"broadcast":      h.broadcast,
		"history":        h.history,
		"history_remove": h.historyRemove,
		"presence":       h.presence,
		"presence_stats": h.presenceStats,
		"subscribe":      h.subscribe,
		"unsubscribe":    h.unsubscribe,
		"disconnect":     h.disconnect,
		"channels":       h.channels,
		"info":           h.info,
		"batch":          h.batch,
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	status := h.serve(w, r, method)
	label := method
	if _, ok := h.methods[method]; !ok {
		label = "unknown"
	}
	h.opts.Metrics.APIRequests.WithLabelValues(label, strconv.Itoa(status)).Inc()
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, method string) int {
	if err := h.authorize(r); err != nil {
		return writeError(w, err)
	}
	fn, ok := h.methods[method]
	if !ok {
		return writeError(w, unknownMethod(method))
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return writeJSON(w, http.StatusMethodNotAllowed, errorBody(herald.ErrBadRequest, "use POST for /api/"+method))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return writeError(w, herald.Errorf(herald.ErrTooLarge, "request body exceeds %d bytes (api.max_body_size)", h.opts.MaxBodySize))
		}
		return writeError(w, herald.Errorf(herald.ErrBadRequest, "reading the request body: %v", err))
	}
	res, err := fn(r.Context(), body)
	if err != nil {
		return writeError(w, err)
	}
	return writeJSON(w, http.StatusOK, res)
}

func unknownMethod(name string) error {
	return herald.Errorf(herald.ErrUnknownCommand, "unknown API method %q: see docs/api.md", name)
}

// authorize compares the key in constant time; hashing first also hides
// the key's length.
func (h *Handler) authorize(r *http.Request) error {
	if h.opts.Key == "" {
		return herald.Errorf(herald.ErrUnauthorized, "the server API is disabled: start the server with an API key (--api-key or HERALD_API_KEY)")
	}
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "apikey") {
		return herald.Errorf(herald.ErrUnauthorized, "send the header \"Authorization: apikey <key>\"")
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(key)))
	if subtle.ConstantTimeCompare(got[:], h.keyHash[:]) != 1 {
		return herald.Errorf(herald.ErrUnauthorized, "wrong API key")
	}
	return nil
}

// decode reads a request body strictly: unknown fields are refused, so a
// typo like "chanel" is an error instead of a silent no-op.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return herald.Errorf(herald.ErrBadRequest, "the request body is empty: send a JSON object, {} if the method needs no field")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return herald.Errorf(herald.ErrBadRequest, "invalid request body: %v", err)
	}
	if dec.More() {
		return herald.Errorf(herald.ErrBadRequest, "invalid request body: more than one JSON value")
	}
	return nil
}

type errorJSON struct {
	Code    uint32 `json:"code"`
	Message string `json:"message"`
}

func errorBody(code herald.ErrorCode, msg string) any {
	return map[string]errorJSON{"error": {Code: uint32(code), Message: msg}}
}

// toErrorJSON is the API's form of any error: its code and message, or
// internal with a message that leaks nothing.
func toErrorJSON(err error) *errorJSON {
	e := herald.AsError(err)
	return &errorJSON{Code: uint32(e.Code), Message: e.Error()}
}

// empty is the answer of methods that only act: {}.
type empty struct{}

func writeError(w http.ResponseWriter, err error) int {
	e := herald.AsError(err)
	return writeJSON(w, e.Code.HTTPStatus(), errorBody(e.Code, e.Error()))
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // error messages quote <key> and the like
	_ = enc.Encode(v)
	return status
}
