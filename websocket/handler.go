package websocket

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/metrics"
)

// Acceptor makes the session for a new connection (the hub does).
type Acceptor interface {
	Accept(t herald.Transport, info herald.ConnInfo) (herald.Session, error)
}

// Handler upgrades requests to WebSocket connections.
type Handler struct {
	opts Options
	acc  Acceptor
	log  *slog.Logger
	m    *metrics.Metrics
	// The per-frame counters, resolved once: a label lookup per frame
	// would sit on the hottest path.
	msgsIn, bytesIn, msgsOut, bytesOut prometheus.Counter
	// plain answers clients that offer no subprotocol, json those that
	// offer ours: gws refuses a handshake whose offer misses its list.
	plain, json *gws.Upgrader
	adm         *admission
}

// NewHandler returns the handler for /connection/websocket.
func NewHandler(opts Options, acc Acceptor) *Handler {
	opts.setDefaults()
	h := &Handler{opts: opts, acc: acc, log: opts.Logger, m: opts.Metrics,
		msgsIn: opts.Metrics.MessagesIn.WithLabelValues(name), bytesIn: opts.Metrics.BytesIn.WithLabelValues(name),
		msgsOut: opts.Metrics.MessagesOut.WithLabelValues(name), bytesOut: opts.Metrics.BytesOut.WithLabelValues(name)}
	h.adm = newAdmission(opts.Admission)
	ev := &events{h: h}
	h.plain = gws.NewUpgrader(ev, h.serverOption(nil))
	h.json = gws.NewUpgrader(ev, h.serverOption([]string{Subprotocol}))
	return h
}

func (h *Handler) serverOption(subprotocols []string) *gws.ServerOption {
	return &gws.ServerOption{
		ReadMaxPayloadSize: h.opts.MaxMessageSize,
		ReadBufferSize:     h.opts.ReadBufferSize,
		CheckUtf8Enabled:   true,
		HandshakeTimeout:   h.opts.HandshakeTimeout,
		SubProtocols:       subprotocols,
		PermessageDeflate: gws.PermessageDeflate{
			Enabled:   h.opts.Compression,
			Threshold: h.opts.CompressionThreshold,
			// Compressors are shared by all connections and cost about
			// half a megabyte each, allocated up front: a few per core
			// keep contention low without gws's default 32.
			PoolSize:              4 * runtime.GOMAXPROCS(0),
			ServerContextTakeover: false,
			ClientContextTakeover: false,
		},
		NewSession: func() gws.SessionStorage { return new(conn) },
		Recovery:   h.recovery,
	}
}

// recovery keeps a panic in one connection's handling from taking the
// process down; the connection is closed by gws.
func (h *Handler) recovery(gws.Logger) {
	if e := recover(); e != nil {
		h.log.Error("panic while handling a WebSocket connection", "panic", e, "stack", string(debug.Stack()))
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reason, err := CheckOrigin(r, h.opts.OriginPatterns, h.opts.Hosts); err != nil {
		h.refuse(w, r, http.StatusForbidden, reason, err.Error())
		return
	}
	if !isUpgrade(r) {
		h.refuse(w, r, http.StatusBadRequest, "not_websocket", "this endpoint speaks WebSocket: send a GET with Upgrade: websocket (RFC 6455)")
		return
	}
	if !h.Admit(w, r) {
		return
	}
	up := h.plain
	if offered := r.Header.Get("Sec-WebSocket-Protocol"); offered != "" {
		if !offers(offered, Subprotocol) {
			h.refuse(w, r, http.StatusBadRequest, "subprotocol", "unsupported subprotocol "+offered+": this server speaks "+Subprotocol)
			return
		}
		up = h.json
	}
	netc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.m.Handshakes.WithLabelValues("handshake").Inc()
		h.log.Debug("WebSocket handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	sc := newSocketConn(netc, h.opts.WriteTimeout)
	// The epoll engine needs the socket's descriptor: a TLS connection
	// (herald serve with tls) reads in a goroutine as before.
	epoll := h.opts.Engine == EngineEpoll && epollSupported && sc.raw != nil
	var br *bufio.Reader
	if !epoll {
		br = bufio.NewReaderSize(sc, h.opts.ReadBufferSize)
	}
	socket, err := up.UpgradeFromConn(sc, br, r)
	if err != nil {
		h.m.Handshakes.WithLabelValues("handshake").Inc()
		h.log.Debug("WebSocket handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := socket.Session().(*conn)
	c.h, c.socket, c.sc = h, socket, sc
	info := herald.ConnInfo{RemoteAddr: r.RemoteAddr, Transport: name}
	h.describeHandshake(&info, r, socket)
	if epoll {
		c.raw, c.deflate = sc.raw, info.Compression
		c.state.Store(stBusy) // until start: see there
		_ = netc.SetReadDeadline(time.Time{})
	}
	if h.opts.Headers != nil {
		info.Header = h.opts.Headers(r.Header)
	}
	sess, err := h.acc.Accept(c, info)
	if err != nil {
		_ = c.Close(herald.DisconnectShutdown)
		return
	}
	c.sess = sess
	if !epoll {
		// A fresh goroutine, not this handler's, so the HTTP server's deep
		// stack and request are released while the connection idles.
		go socket.ReadLoop()
		return
	}
	c.start()
}

// refuse answers a handshake that cannot become a WebSocket, and logs it
// once at info: a browser shows its page only close 1006, so the server's
// log is where an operator learns that, say, websocket.origins lacks the
// page's origin.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	h.m.Handshakes.WithLabelValues(reason).Inc()
	attrs := []any{"reason", reason, "error", msg, "remote", r.RemoteAddr, "host", r.Host}
	switch reason {
	case "origin":
		attrs = append(attrs, "origin", r.Header.Get("Origin"), "setting", "websocket.origins")
	case "host":
		attrs = append(attrs, "origin", r.Header.Get("Origin"), "setting", "websocket.hosts")
	}
	h.log.Info("WebSocket handshake refused", attrs...)
	code := herald.ErrBadRequest
	if status == http.StatusForbidden {
		code = herald.ErrPermissionDenied
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// Admit applies this handler's admission caps to a connection another
// transport is about to open (the HTTP fallback streams), so that every
// transport draws on one budget per node and per client address: a storm
// that falls back to SSE is spread out as the WebSocket one is. Over a
// cap it answers 503 with Retry-After and returns false.
func (h *Handler) Admit(w http.ResponseWriter, r *http.Request) bool {
	if ok, scope, wait := h.adm.admit(clientIP(r, h.opts.Admission.ClientIPHeader)); !ok {
		h.busy(w, r, scope, wait)
		return false
	}
	return true
}

// Admitted wraps next, the handler of another transport's connection
// requests, with Admit.
func (h *Handler) Admitted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.Admit(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// busy answers an upgrade over an admission cap: 503 with Retry-After,
// counted but logged only at debug, as a storm would flood the log.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request, scope string, wait time.Duration) {
	reason := "rate_" + scope
	h.m.Handshakes.WithLabelValues(reason).Inc()
	h.log.Debug("WebSocket handshake refused", "reason", reason, "remote", r.RemoteAddr, "retry_after", wait)
	w.Header().Set("Retry-After", retryAfter(wait))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	msg := "too many new connections (" + scope + " cap, admission settings): retry after the Retry-After header's seconds"
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": herald.ErrUnavailable, "message": msg}})
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func offers(header, want string) bool {
	for _, p := range strings.Split(header, ",") {
		if strings.TrimSpace(p) == want {
			return true
		}
	}
	return false
}

// events receives gws's callbacks for every connection.
type events struct{ h *Handler }

func (e *events) OnOpen(*gws.Conn) {}

func (e *events) OnClose(socket *gws.Conn, err error) {
	c := socket.Session().(*conn)
	if c.sess == nil {
		return
	}
	c.sess.HandleClose(closeReason(err))
}

func (e *events) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

func (e *events) OnPong(*gws.Conn, []byte) {}

func (e *events) OnMessage(socket *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	c := socket.Session().(*conn)
	if msg.Opcode != gws.OpcodeText {
		_ = c.Close(herald.DisconnectUnsupportedData)
		return
	}
	data := msg.Bytes()
	e.h.msgsIn.Inc()
	e.h.bytesIn.Add(float64(len(data)))
	c.sess.HandleFrame(data)
}

// closeReason maps how gws ended the read loop to a catalog disconnect:
// protocol violations get their RFC 6455 code; a peer's own close or a
// lost network gives nil.
func closeReason(err error) *herald.Disconnect {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		if d, ok := herald.DisconnectByCode(ce.Code); ok {
			return &d
		}
		return &herald.Disconnect{Code: ce.Code, Name: "client_close", Reason: string(ce.Reason)}
	}
	if errors.Is(err, gws.ErrTextEncoding) {
		return &herald.DisconnectInvalidUTF8
	}
	// gws reports the close codes it sends itself (1009, 1002, ...) as a
	// status code type of its internal package.
	var sc interface{ Uint16() uint16 }
	if errors.As(err, &sc) {
		if d, ok := herald.DisconnectByCode(sc.Uint16()); ok {
			return &d
		}
		return &herald.Disconnect{Code: sc.Uint16(), Name: "protocol_error", Reason: err.Error()}
	}
	return nil
}
