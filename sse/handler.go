package sse

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/websocket"
)

// Acceptor makes the session for a new stream (the hub does).
type Acceptor interface {
	Accept(t herald.Transport, info herald.ConnInfo) (herald.Session, error)
}

// relayKind names this package's requests in hub.Relay.
const relayKind = "emulation"

// Handler serves both streams and the emulation endpoint of one node.
type Handler struct {
	opts  Options
	acc   Acceptor
	relay Relayer
	node  string
	m     *metrics.Metrics

	// The per-frame counters by transport, resolved once.
	msgsIn, bytesIn map[string]prometheus.Counter

	mu    sync.Mutex
	conns map[string]*conn // this node's open streams by session id
}

// NewHandler returns the handler of this node's streams; r relays POSTs
// between nodes and tells this node's id (the hub).
func NewHandler(opts Options, acc Acceptor, r Relayer) *Handler {
	opts.setDefaults()
	h := &Handler{opts: opts, acc: acc, relay: r, node: r.NodeID(), m: opts.Metrics,
		msgsIn: map[string]prometheus.Counter{}, bytesIn: map[string]prometheus.Counter{},
		conns: map[string]*conn{}}
	for _, name := range []string{SSE, HTTPStream} {
		h.msgsIn[name] = h.m.MessagesIn.WithLabelValues(name)
		h.bytesIn[name] = h.m.BytesIn.WithLabelValues(name)
	}
	r.HandleRelay(relayKind, h.answerRelay)
	return h
}

// SSE returns the handler for /connection/sse.
func (h *Handler) SSE() http.Handler { return h.stream(SSE) }

// HTTPStream returns the handler for /connection/http_stream.
func (h *Handler) HTTPStream() http.Handler { return h.stream(HTTPStream) }

// Emulation returns the handler for /connection/emulation.
func (h *Handler) Emulation() http.Handler { return http.HandlerFunc(h.serveEmulation) }

func (h *Handler) stream(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serveStream(name, w, r) })
}

func (h *Handler) serveStream(name string, w http.ResponseWriter, r *http.Request) {
	if !h.allowOrigin(w, r, name) {
		return
	}
	if r.Method != http.MethodGet {
		h.refuse(w, r, name, "method", http.StatusMethodNotAllowed, herald.ErrBadRequest, "open a "+name+" stream with GET")
		return
	}
	var first []byte
	if q := r.URL.Query().Get("connect"); q != "" {
		if len(q) > h.opts.MaxMessageSize {
			h.refuse(w, r, name, "too_large", http.StatusRequestEntityTooLarge, herald.ErrTooLarge, "the connect command in the query is larger than websocket.max_message_size")
			return
		}
		if err := checkFrame([]byte(q)); err != nil {
			h.refuse(w, r, name, "bad_request", http.StatusBadRequest, herald.ErrBadRequest, "the connect query parameter: "+err.Error())
			return
		}
		first = []byte(q)
	}
	c := &conn{name: name, id: h.node + "." + randomHex(12), token: randomHex(24), h: h, w: w,
		rc: http.NewResponseController(w), done: make(chan struct{}),
		msgsOut: h.m.MessagesOut.WithLabelValues(name), bytesOut: h.m.BytesOut.WithLabelValues(name)}
	info := herald.ConnInfo{RemoteAddr: r.RemoteAddr, Transport: name}
	if h.opts.Headers != nil {
		info.Header = h.opts.Headers(r.Header)
	}
	sess, err := h.acc.Accept(c, info)
	if err != nil {
		h.refuse(w, r, name, "unavailable", http.StatusServiceUnavailable, herald.ErrUnavailable, err.Error())
		return
	}
	c.sess = sess
	hd := w.Header()
	if name == SSE {
		hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	} else {
		hd.Set("Content-Type", "application/x-ndjson; charset=utf-8")
	}
	// No cache or proxy may hold the stream back or replay it; nginx
	// buffers responses unless told not to.
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	h.mu.Lock()
	h.conns[c.id] = c
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c.id)
		h.mu.Unlock()
		_ = c.Close(herald.Disconnect{})
		c.end()
	}()

	c.mu.Lock()
	err = c.write(preamble(name, c.id, c.token))
	c.mu.Unlock()
	if err != nil {
		return
	}
	if first != nil {
		c.handleFrame(first)
	}
	select {
	case <-c.done:
	case <-r.Context().Done():
	}
}

// preamble is the stream's first event: the session id and token that the
// client's POSTs must carry.
func preamble(name, id, token string) []byte {
	body := `{"session":"` + id + `","token":"` + token + `"}`
	if name == SSE {
		return []byte("event: session\ndata: " + body + "\n\n")
	}
	return []byte(body + "\n")
}

// allowOrigin applies websocket.origins as the WebSocket handshake does and
// gives an allowed cross-origin page the CORS headers its fetch needs.
func (h *Handler) allowOrigin(w http.ResponseWriter, r *http.Request, name string) bool {
	if reason, err := websocket.CheckOrigin(r, h.opts.OriginPatterns, h.opts.Hosts); err != nil {
		h.refuse(w, r, name, reason, http.StatusForbidden, herald.ErrPermissionDenied, err.Error())
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Add("Vary", "Origin")
	}
	return true
}

// refuse answers a request that cannot go on with a status and a catalog
// error in a JSON body, and logs it once at info: a browser's page sees
// little of a failed stream, so the server's log is where an operator
// learns that, say, websocket.origins lacks the page's origin.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, name, reason string, status int, code herald.ErrorCode, msg string) {
	h.m.Handshakes.WithLabelValues(reason).Inc()
	attrs := []any{"transport", name, "reason", reason, "error", msg, "remote", r.RemoteAddr, "path", r.URL.Path}
	switch reason {
	case "origin":
		attrs = append(attrs, "origin", r.Header.Get("Origin"), "setting", "websocket.origins")
	case "host":
		attrs = append(attrs, "host", r.Host, "setting", "websocket.hosts")
	}
	h.opts.Logger.Info("HTTP fallback request refused", attrs...)
	writeError(w, status, code, msg)
}

func writeError(w http.ResponseWriter, status int, code herald.ErrorCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(errorBody(code, msg))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// nodeOf is the node part of a session id.
func nodeOf(id string) string {
	node, _, _ := strings.Cut(id, ".")
	return node
}
