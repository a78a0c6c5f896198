package websocket

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldrt/herald/metrics"
)

// Subprotocol is the WebSocket subprotocol of Herald's JSON protocol v1. A
// client may offer it or no subprotocol at all; both get JSON.
const Subprotocol = "herald.json"

// Options configure the handler. Zero fields take the defaults noted.
type Options struct {
	// MaxMessageSize is the largest message a client may send; a larger
	// one closes the connection with 1009. Default 64 KiB.
	MaxMessageSize int
	// Compression negotiates permessage-deflate without context takeover,
	// so that a compressor is not kept per connection.
	Compression bool
	// CompressionThreshold leaves messages shorter than this uncompressed.
	// Default 512 bytes.
	CompressionThreshold int
	// OriginPatterns are the origins allowed besides the request's own host:
	// "app.example.com", "*.example.com", or "*" for all, which re-opens
	// the door to cross-site WebSocket hijacking if the app authenticates
	// with cookies. Origin is not authentication: non-browser clients can
	// send any Origin they like.
	OriginPatterns []string
	// Hosts are the server's own host names ("chat.example.com",
	// "*.example.com"; ports ignored): a request whose Origin equals its
	// Host is same-origin only when Host is one of them, an IP address or
	// a loopback name (localhost, *.localhost), so that a DNS rebinding
	// page is refused. Default none beyond those.
	Hosts []string
	// Admission caps new connections per second, per node and per client
	// address; the zero value admits all.
	Admission AdmissionOptions
	// WriteTimeout bounds every write to a client. Default 10s.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds writing the upgrade response. Default 5s.
	HandshakeTimeout time.Duration
	// ReadBufferSize is each connection's read buffer on the goroutine
	// engine, held for the connection's life (gws keeps one per
	// connection); the epoll engine reads into pooled buffers instead. Default 128 bytes:
	// enough for a typical command and frame header in one read; larger
	// frames are read straight into a pooled buffer anyway.
	ReadBufferSize int
	// Engine is how connections are read: EngineEpoll (the default) has
	// no goroutine per idle connection, the poller starts one while input
	// is there; EngineGoroutine parks a goroutine in a read on each
	// connection, as before. TLS connections and platforms other than
	// Linux always use goroutines.
	Engine string
	// Headers picks the handshake headers the hub's connect hook is to see
	// (cookies, say); nil keeps none. They are held only until connect.
	Headers func(http.Header) map[string]string
	// Logger receives the transport's logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics counts messages, bytes and refused handshakes.
	Metrics *metrics.Metrics
}

// The read engines (Options.Engine, websocket.engine).
const (
	EngineEpoll     = "epoll"
	EngineGoroutine = "goroutine"
)

func (o *Options) setDefaults() {
	if o.Engine == "" {
		o.Engine = EngineEpoll
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 64 << 10
	}
	if o.CompressionThreshold <= 0 {
		o.CompressionThreshold = 512
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	if o.ReadBufferSize <= 0 {
		o.ReadBufferSize = 128
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
}
