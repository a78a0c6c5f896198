package sse

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldrt/herald/metrics"
)

// Transport names, as in logs, metrics and the clients' --transport.
const (
	SSE        = "sse"
	HTTPStream = "http_stream"
)

// Relayer carries a command for a stream held by another node to that node
// and brings its answer back (the hub does, through the broker).
type Relayer interface {
	NodeID() string
	Relay(ctx context.Context, node, kind string, payload json.RawMessage) (json.RawMessage, error)
	HandleRelay(kind string, fn func(payload json.RawMessage) json.RawMessage)
}

// Options configure the handlers. Zero fields take the defaults noted.
type Options struct {
	// MaxMessageSize is the largest POST body (one batch of commands) and
	// the largest connect command in a stream's query. Default 64 KiB, as
	// websocket.max_message_size.
	MaxMessageSize int
	// OriginPatterns are the origins allowed besides the request's own
	// host, as websocket.Options.OriginPatterns (websocket.origins);
	// allowed cross-origin pages also get CORS headers.
	OriginPatterns []string
	// Hosts are the server's own host names, as websocket.Options.Hosts
	// (websocket.hosts): Origin equal to Host is same-origin only for
	// them, IP addresses and loopback names.
	Hosts []string
	// WriteTimeout bounds every write to a stream. Default 10s.
	WriteTimeout time.Duration
	// RelayTimeout bounds waiting for the node holding a stream to answer
	// a relayed POST. Default 5s.
	RelayTimeout time.Duration
	// Headers picks the stream request's headers the hub's connect hook is
	// to see (cookies, say); nil keeps none.
	Headers func(http.Header) map[string]string
	// Logger receives the transport's logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics counts messages, bytes and refused requests.
	Metrics *metrics.Metrics
}

func (o *Options) setDefaults() {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 64 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.RelayTimeout <= 0 {
		o.RelayTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
}
