package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/protocol"
)

// Config holds the hub's options. Zero fields take the defaults noted.
type Config struct {
	// Namespaces resolves channels to their options.
	Namespaces herald.Namespaces
	// ChannelLimit is the most channels one connection may subscribe to. Default 128.
	ChannelLimit int
	// QueueSize is the most bytes queued for one connection; overflowing
	// disconnects it as slow. Default 1 MiB.
	QueueSize int
	// PingInterval is how often each connection is pinged. Default 25s.
	PingInterval time.Duration
	// PongTimeout is how long a ping may go unanswered. Default 10s.
	PongTimeout time.Duration
	// ConnectTimeout is how long a connection may go without connect. Default 10s.
	ConnectTimeout time.Duration
	// MaxErrors is how many invalid commands a connection may send. Default 20.
	MaxErrors int
	// Version is the server version sent in the connect reply.
	Version string
	// Logger receives the hub's logs. Default slog.Default().
	Logger *slog.Logger
	// Metrics counts what the hub does. Default: a private set.
	Metrics *metrics.Metrics
}

func (c *Config) setDefaults() {
	if c.ChannelLimit <= 0 {
		c.ChannelLimit = 128
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1 << 20
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 10 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.MaxErrors <= 0 {
		c.MaxErrors = 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
}

// Hub registers sessions and subscriptions and fans publications out.
type Hub struct {
	cfg    Config
	broker herald.Broker
	reg    registry
	log    *slog.Logger
	m      *metrics.Metrics

	seq      atomic.Uint64 // session sequence, for shard choice
	draining atomic.Bool
	closed   chan struct{} // closed when the last session is gone while draining
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	wg       sync.WaitGroup
}

var _ herald.BrokerHandler = (*Hub)(nil)

// New returns a hub publishing through broker. Call Run to start it.
func New(cfg Config, broker herald.Broker) *Hub {
	cfg.setDefaults()
	h := &Hub{cfg: cfg, broker: broker, log: cfg.Logger, m: cfg.Metrics, closed: make(chan struct{}), stop: make(chan struct{})}
	h.reg.init()
	return h
}

// Start starts the broker and the heartbeat loop; Close stops them.
func (h *Hub) Start() error {
	if err := h.broker.Start(h); err != nil {
		return fmt.Errorf("hub: start broker: %w", err)
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.heartbeat(h.stop)
	}()
	return nil
}

// Close stops the heartbeat loop and the broker and waits for them. Call
// Shutdown first so that clients are told to reconnect.
func (h *Hub) Close() error {
	h.stopOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
	return h.broker.Close()
}

// Publish validates and publishes data to a channel on behalf of the
// server API (source "api") or a client ("client").
func (h *Hub) Publish(ctx context.Context, channel string, data []byte, source string) (herald.StreamPosition, error) {
	data, err := compactJSON(data)
	if err != nil {
		return herald.StreamPosition{}, err
	}
	return h.publish(ctx, channel, data, source)
}

// Broadcast publishes the same data to several channels, validating and
// compacting it once. Each channel gets its own position or error, in order.
func (h *Hub) Broadcast(ctx context.Context, channels []string, data []byte, source string) ([]herald.StreamPosition, []error, error) {
	data, err := compactJSON(data)
	if err != nil {
		return nil, nil, err
	}
	pos, errs := make([]herald.StreamPosition, len(channels)), make([]error, len(channels))
	for i, ch := range channels {
		pos[i], errs[i] = h.publish(ctx, ch, data, source)
	}
	return pos, errs, nil
}

// publish resolves the channel and hands compact data to the broker.
func (h *Hub) publish(ctx context.Context, channel string, data []byte, source string) (herald.StreamPosition, error) {
	opts, err := h.cfg.Namespaces.Resolve(channel)
	if err != nil {
		return herald.StreamPosition{}, err
	}
	start := time.Now()
	pos, err := h.broker.Publish(ctx, channel, data, herald.PublishOptions{HistorySize: opts.HistorySize, HistoryTTL: opts.HistoryTTL})
	if err != nil {
		h.log.Error("publish failed", "channel", channel, "err", err)
		return pos, herald.Errorf(herald.ErrUnavailable, "publish to %q failed: the broker is not available", channel)
	}
	h.m.PublishLatency.Observe(time.Since(start).Seconds())
	h.m.Publications.WithLabelValues(source).Inc()
	return pos, nil
}

// compactJSON checks that data is one JSON value other than null and
// removes its insignificant whitespace: pushes are newline-delimited, so a
// publication must not carry a newline, and smaller is cheaper to fan out.
func compactJSON(data []byte) ([]byte, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, herald.Errorf(herald.ErrBadRequest, "data is missing: publish a JSON value, e.g. {\"text\":\"hi\"}")
	}
	if !bytes.ContainsAny(data, " \t\r\n") {
		if !json.Valid(data) {
			return nil, herald.Errorf(herald.ErrBadRequest, "data is not valid JSON")
		}
		return data, nil
	}
	var b bytes.Buffer
	b.Grow(len(data))
	if err := json.Compact(&b, data); err != nil {
		return nil, herald.Errorf(herald.ErrBadRequest, "data is not valid JSON: %v", err)
	}
	if bytes.Equal(b.Bytes(), []byte("null")) {
		return nil, herald.Errorf(herald.ErrBadRequest, "data is missing: publish a JSON value, e.g. {\"text\":\"hi\"}")
	}
	return b.Bytes(), nil
}

// HandlePublication fans a publication out to the channel's local
// subscribers: encoded once, queued to each without waiting for any.
func (h *Hub) HandlePublication(channel string, pub herald.Publication) {
	sh := h.reg.subShard(channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	subs := sh.channels[channel]
	if len(subs) == 0 {
		return
	}
	msg := protocol.AppendPub(make([]byte, 0, len(channel)+len(pub.Data)+64), channel, pub.Offset, pub.Epoch, pub.Data)
	for s := range subs {
		s.q.push(msg)
	}
}

// subscribe adds s to the channel's subscribers and queues the reply (if
// any) while
// the channel's shard is locked, so that no publication can reach s before
// its subscribe reply.
func (h *Hub) subscribe(ctx context.Context, s *Session, channel string, reply []byte) error {
	sh := h.reg.subShard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	subs := sh.channels[channel]
	if subs == nil {
		if err := h.broker.Subscribe(ctx, channel); err != nil {
			h.log.Error("broker subscribe failed", "channel", channel, "err", err)
			return herald.Errorf(herald.ErrUnavailable, "subscribe to %q failed: the broker is not available", channel)
		}
		subs = make(map[*Session]struct{}, 1)
		sh.channels[channel] = subs
		h.m.Channels.Inc()
	}
	subs[s] = struct{}{}
	h.m.Subscriptions.Inc()
	if reply != nil {
		s.q.push(reply)
	}
	return nil
}

func (h *Hub) unsubscribe(s *Session, channel string) {
	sh := h.reg.subShard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	subs := sh.channels[channel]
	if _, ok := subs[s]; !ok {
		return
	}
	delete(subs, s)
	h.m.Subscriptions.Dec()
	if len(subs) == 0 {
		delete(sh.channels, channel)
		h.m.Channels.Dec()
		if err := h.broker.Unsubscribe(context.Background(), channel); err != nil {
			h.log.Warn("broker unsubscribe failed", "channel", channel, "err", err)
		}
	}
}

// Accept makes a session for a new connection. The transport then feeds it
// frames with HandleFrame and reports the end with HandleClose.
func (h *Hub) Accept(t herald.Transport, info herald.ConnInfo) (herald.Session, error) {
	if h.draining.Load() {
		return nil, herald.Errorf(herald.ErrUnavailable, "server is shutting down")
	}
	s := newSession(h, t, info)
	h.reg.addConn(s)
	h.m.Connections.Inc()
	if h.draining.Load() {
		// Shutdown began after the check above and may have missed s.
		s.Disconnect(herald.DisconnectShutdown)
	}
	return s, nil
}

// removed is called once per session when it ends.
func (h *Hub) removed(s *Session) {
	h.reg.removeConn(s)
	h.m.Connections.Dec()
	if h.draining.Load() && h.reg.numConns() == 0 {
		h.signalEmpty()
	}
}

func (h *Hub) signalEmpty() {
	select {
	case <-h.closed:
	default:
		close(h.closed)
	}
}

// Draining reports whether Shutdown has begun.
func (h *Hub) Draining() bool { return h.draining.Load() }

// Shutdown refuses new sessions and tells every client to reconnect (code
// shutdown), spread at random over drain so that they do not all come back
// to the next node at once. It returns when every session has ended, or
// closes what is left when ctx ends.
func (h *Hub) Shutdown(ctx context.Context, drain time.Duration) error {
	h.draining.Store(true)
	if h.reg.numConns() == 0 {
		h.signalEmpty()
	}
	var timers []*time.Timer
	h.reg.eachConn(func(s *Session) {
		d := time.Duration(0)
		if drain > 0 {
			d = rand.N(drain)
		}
		timers = append(timers, time.AfterFunc(d, func() { s.Disconnect(herald.DisconnectShutdown) }))
	})
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	select {
	case <-h.closed:
		return nil
	case <-ctx.Done():
		h.reg.eachConn(func(s *Session) { s.Disconnect(herald.DisconnectShutdown) })
		return errors.New("hub: shutdown timed out; closed the remaining connections")
	}
}

// Stats is a snapshot of the hub's size.
type Stats struct {
	Connections int `json:"connections"`
	Channels    int `json:"channels"`
}

// Stats counts connections and channels.
func (h *Hub) Stats() Stats {
	return Stats{Connections: h.reg.numConns(), Channels: h.reg.numChannels()}
}
