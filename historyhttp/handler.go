package historyhttp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/metrics"
)

// Reader is what the handler reads from: the hub checks the channel, the
// namespace and the token, and reads the page.
type Reader interface {
	HTTPHistory(ctx context.Context, channel string, q hub.HTTPHistoryQuery) (hub.HTTPHistoryPage, error)
}

var _ Reader = (*hub.Hub)(nil)

// Options configure the handler. Zero fields take the defaults noted.
type Options struct {
	// PageSize is the most publications in one page. The page size is
	// part of what a URL means to a cache, so it is the server's choice,
	// not the client's. Default 100 (capped at the namespace's
	// history_size).
	PageSize int
	// OpenMaxAge is how long a cache may keep the open end of a stream
	// (a page that reaches its newest publication). Longer saves reads
	// and delays a catching-up client by as much. Default 1s.
	OpenMaxAge time.Duration
	// Logger receives refused requests. Default slog.Default().
	Logger *slog.Logger
	// Metrics counts the answers. Default: a private set.
	Metrics *metrics.Metrics
}

// immutableMaxAge is a year: what RFC 9111 caches treat as "forever".
const immutableMaxAge = 365 * 24 * time.Hour

// Handler serves GET /history/{channel}.
type Handler struct {
	opts Options
	r    Reader
}

// NewHandler returns the handler; mount it at "GET /history/{channel}".
func NewHandler(opts Options, r Reader) *Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.OpenMaxAge <= 0 {
		opts.OpenMaxAge = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	return &Handler{opts: opts, r: r}
}

// Page is the answer's body (docs/api.md), for Go readers too. Next is set on a full page below the stream's
// top (ask again with since=next); Offset, the stream's newest offset, on
// the open end only, since it changes with every publication and an
// immutable page must not carry it.
type Page struct {
	Publications []Publication `json:"publications"`
	Epoch        string        `json:"epoch"`
	Next         *uint64       `json:"next,omitempty"`
	Offset       *uint64       `json:"offset,omitempty"`
}

// Publication is one publication of a Page.
type Publication struct {
	Offset uint64          `json:"offset"`
	Data   json.RawMessage `json:"data"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Pages are read by pages of other origins (an app at
	// app.example.com, Herald at rt.example.com): without this the
	// browser hides every answer and the client's catch-up always falls
	// back to the connection. Safe for any origin: no answer depends on
	// cookies, and a token in the Authorization header needs a preflight
	// this handler does not grant, so only anonymous reads and signed
	// URLs (token=), which anyone holding the URL can read anyway, cross
	// origins. One value for all, so caches need no Vary: Origin.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	channel := r.PathValue("channel")
	q, bearer, err := parseQuery(r)
	q.Limit = h.opts.PageSize
	if err == nil {
		var res hub.HTTPHistoryPage
		if res, err = h.r.HTTPHistory(r.Context(), channel, q); err == nil {
			h.writePage(w, r, res, q, bearer)
			return
		}
	}
	e := herald.AsError(err)
	h.opts.Metrics.HistoryHTTP.WithLabelValues("error").Inc()
	h.opts.Logger.Info("history request refused", "channel", channel, "code", uint32(e.Code), "err", e.Message)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code.HTTPStatus())
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": uint32(e.Code), "message": e.Error()}})
}

// parseQuery reads epoch, since and the token; bearer reports that the
// token came in the Authorization header.
func parseQuery(r *http.Request) (q hub.HTTPHistoryQuery, bearer bool, err error) {
	v := r.URL.Query()
	q.Since.Epoch = v.Get("epoch")
	since := v.Get("since")
	if since == "" {
		return q, false, herald.Errorf(herald.ErrBadRequest, "since is required: the offset of the last publication you have (0 for none)")
	}
	if q.Since.Offset, err = strconv.ParseUint(since, 10, 64); err != nil {
		return q, false, herald.Errorf(herald.ErrBadRequest, "since must be an offset (a non-negative integer), got %q", since)
	}
	q.Token = v.Get("token")
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, token, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			return q, false, herald.Errorf(herald.ErrUnauthorized, "send the header \"Authorization: Bearer <token>\"")
		}
		if q.Token != "" {
			return q, false, herald.Errorf(herald.ErrBadRequest, "send the token once: in the Authorization header or in the token parameter")
		}
		q.Token, bearer = strings.TrimSpace(token), true
	}
	return q, bearer, nil
}

func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, res hub.HTTPHistoryPage, q hub.HTTPHistoryQuery, bearer bool) {
	p := Page{Publications: make([]Publication, len(res.Publications)), Epoch: res.Epoch}
	for i, pub := range res.Publications {
		p.Publications[i] = Publication{Offset: pub.Offset, Data: pub.Data}
	}
	n := len(res.Publications)
	// A page is final when it is full, has every offset after since with
	// no gap (a trimmed history's first page would change as it trims
	// on), and ends below the top. Full means as many as the hub would
	// return: the page size, or the namespace's history_size if smaller.
	final := n > 0 && n >= res.Limit &&
		res.Publications[0].Offset == q.Since.Offset+1 &&
		res.Publications[n-1].Offset == q.Since.Offset+uint64(n) &&
		res.Publications[n-1].Offset < res.Offset
	if final {
		next := res.Publications[n-1].Offset
		p.Next = &next
	} else {
		top := res.Offset
		p.Offset = &top
	}
	body, err := json.Marshal(p)
	if err != nil {
		http.Error(w, "encoding the page failed", http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`

	hd := w.Header()
	// A token in the header is the reader's own: only its own cache may
	// keep the page. Anonymous reads and signed URLs (the token is in the
	// URL, so in the cache key) may be shared.
	scope := "public"
	if bearer {
		scope = "private"
	}
	if final {
		hd.Set("Cache-Control", scope+", max-age="+seconds(immutableMaxAge)+", immutable")
	} else {
		hd.Set("Cache-Control", scope+", max-age="+seconds(h.opts.OpenMaxAge))
	}
	hd.Set("ETag", etag)
	hd.Set("Vary", "Authorization")
	if matches(r.Header.Get("If-None-Match"), etag) {
		h.opts.Metrics.HistoryHTTP.WithLabelValues("not_modified").Inc()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if final {
		h.opts.Metrics.HistoryHTTP.WithLabelValues("final").Inc()
	} else {
		h.opts.Metrics.HistoryHTTP.WithLabelValues("open").Inc()
	}
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(max(d/time.Second, 1)), 10)
}

// matches applies If-None-Match (RFC 9110 13.1.2): a list of tags or *,
// compared weakly, so a W/ tag a proxy made from ours still matches.
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
