package hub

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/metrics"
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
	// Writers is how many goroutines write the connections' outbound
	// queues (see writers.go: a writer whose write blocks is handed over
	// to its connection and replaced). Default 4×GOMAXPROCS.
	Writers int
	// PingInterval is how often each connection is pinged. Default 25s.
	PingInterval time.Duration
	// PongTimeout is how long a ping may go unanswered. Default 10s.
	PongTimeout time.Duration
	// ConnectTimeout is how long a connection may go without connect. Default 10s.
	ConnectTimeout time.Duration
	// MaxErrors is how many invalid commands a connection may send. Default 20.
	MaxErrors int
	// PublishRate is how many client publications per second one
	// connection may send, with bursts of PublishBurst. 0: no limit.
	PublishRate  float64
	PublishBurst int
	// RecoveryMax is the most publications replayed to one subscribe with
	// recover; a client that missed more gets recovered: false. Default 1000.
	RecoveryMax int
	// IdempotencyWindow is how long an API publish's idempotency key is
	// remembered. Default 5m.
	IdempotencyWindow time.Duration
	// Presence keeps who is subscribed where a namespace asks for it. Nil
	// makes presence unavailable.
	Presence herald.Presence
	// RPC holds the methods clients may call with the rpc command.
	RPC map[string]RPCHandler
	// RPCForward answers methods not in RPC; nil: they are unknown (116).
	RPCForward RPCForwarder
	// Auth authenticates connections and checks private subscriptions. Nil
	// admits every connection as anonymous and refuses tokens.
	Auth Authenticator
	// ExpireGrace is how long a connection or subscription may outlive its
	// credentials' expiry before it is closed. Default 10s.
	ExpireGrace time.Duration
	// UserConnectionLimit is the most connections one user may have on all
	// nodes together, counted in Presence (see userlimit.go); 0: no limit.
	UserConnectionLimit int
	// PersonalNamespace, when set, subscribes every authenticated
	// connection to its user's channel "<namespace>:#<user>" at connect.
	PersonalNamespace string
	// NodeName names this node in the API's info, for people; the node's
	// id, new at every start, is what tells nodes apart. Default: the
	// host name.
	NodeName string
	// NodeInterval is how often this node announces itself and its counts
	// to the other nodes through the broker. Default 5s.
	NodeInterval time.Duration
	// NodeTimeout is how long another node is listed after its last
	// announcement. Default 3 × NodeInterval.
	NodeTimeout time.Duration
	// SurveyTimeout is the longest wait for every node's answer to a
	// request that asks them all (the API's channels). Default 2s.
	SurveyTimeout time.Duration
	// TimelineSize is how many events each connection's timeline keeps
	// (timeline.go); older ones are dropped, but for the handshake, which
	// stays first. About 50 bytes each, texts shared, only as they
	// happen. Default 32.
	TimelineSize int
	// TimelineKeep is how many closed connections' timelines the node
	// keeps for the admin API. Default 1000.
	TimelineKeep int
	// TimelineKeepFor is how long a closed connection's timeline is
	// listed. Default 15m.
	TimelineKeepFor time.Duration
	// ReconnectWindow is how long after Shutdown begins the clients it
	// disconnects are advised to come back, spread evenly over the window
	// (the disconnect push's reconnect_in), so that the nodes left are not
	// stampeded. At least the drain; 0: no advice, clients use their own
	// backoff.
	ReconnectWindow time.Duration
	// TraceRedact names the JSON keys whose values a trace shows as
	// "[redacted]", at any depth of a frame, besides "token", which is
	// always redacted. Default none.
	TraceRedact []string
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
	if c.Writers <= 0 {
		c.Writers = defaultWriters()
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
	if c.ExpireGrace <= 0 {
		c.ExpireGrace = 10 * time.Second
	}
	if c.RecoveryMax <= 0 {
		c.RecoveryMax = 1000
	}
	if c.IdempotencyWindow <= 0 {
		c.IdempotencyWindow = 5 * time.Minute
	}
	if c.PublishBurst <= 0 {
		c.PublishBurst = max(1, int(2*c.PublishRate))
	}
	if c.NodeName == "" {
		c.NodeName, _ = os.Hostname()
	}
	if c.NodeInterval <= 0 {
		c.NodeInterval = 5 * time.Second
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 3 * c.NodeInterval
	}
	if c.SurveyTimeout <= 0 {
		c.SurveyTimeout = 2 * time.Second
	}
	if c.TimelineSize <= 0 {
		c.TimelineSize = 32
	}
	if c.TimelineKeep <= 0 {
		c.TimelineKeep = 1000
	}
	if c.TimelineKeepFor <= 0 {
		c.TimelineKeepFor = 15 * time.Minute
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

	id          string        // this node's id
	peers       peers         // the other live nodes
	surveys     surveys       // this node's open surveys
	relays      relays        // relayed requests: handlers and awaited answers
	started     time.Time     // for uptime
	seq         atomic.Uint64 // session sequence, for shard choice
	draining    atomic.Bool
	closed      chan struct{} // closed when the last session is gone while draining
	stop        chan struct{} // closed by Close
	stopOnce    sync.Once
	emptyOnce   sync.Once // closes closed once, however many goroutines find the hub empty
	wg          sync.WaitGroup
	writers     writers
	fan         fanouts
	gone        closedTimelines  // the timelines of connections that closed
	texts       textCache        // timeline texts, one copy each
	tr          traces           // live traces (trace.go)
	taps        taps             // channels' live taps (tap.go)
	disconnects disconnectSeries // disconnects by minute and code (disconnects.go)
	redact      map[string]bool  // the keys traces redact
}

var _ herald.BrokerHandler = (*Hub)(nil)

// New returns a hub publishing through broker. Call Run to start it.
func New(cfg Config, broker herald.Broker) *Hub {
	cfg.setDefaults()
	h := &Hub{cfg: cfg, broker: broker, log: cfg.Logger, m: cfg.Metrics, id: newClientID()[:16], started: time.Now(),
		closed: make(chan struct{}), stop: make(chan struct{})}
	h.writers.init()
	h.fan.init()
	h.reg.init()
	h.peers.m = map[string]peer{}
	h.surveys.m = map[string]*survey{}
	h.tr.active, h.tr.watch = map[string]*activeTrace{}, map[string]chan<- TraceLine{}
	h.redact = map[string]bool{"token": true}
	for _, k := range cfg.TraceRedact {
		h.redact[k] = true
	}
	return h
}

// Start starts the writers, the fan-out workers (one per core: their work
// never blocks), the broker and the heartbeat loop; Close stops them.
func (h *Hub) Start() error {
	h.writers.start(h.cfg.Writers)
	h.fan.start(h, fanoutWorkers())
	if err := h.broker.Start(h); err != nil {
		h.fan.shutdown()
		h.writers.shutdown()
		return fmt.Errorf("hub: start broker: %w", err)
	}
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		h.heartbeat(h.stop)
	}()
	go func() {
		defer h.wg.Done()
		h.announceLoop(h.stop)
	}()
	return nil
}

// Close stops the heartbeat loop, the broker, the fan-out workers and the
// writers, in that order, and waits for them; what the broker delivered
// before it stopped is still fanned out and written. Call Shutdown
// first so that clients are told to reconnect.
func (h *Hub) Close() error {
	defer h.writers.shutdown() // after the fan-out, which queues to them
	defer h.fan.shutdown()     // after the broker, which queues to it
	h.stopOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
	// The others forget this node now rather than after NodeTimeout.
	h.announce("node_leave")
	return h.broker.Close()
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
	h.m.Opened.WithLabelValues(info.Transport).Inc()
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
	h.emptyOnce.Do(func() { close(h.closed) })
}

// Draining reports whether Shutdown has begun.
func (h *Hub) Draining() bool { return h.draining.Load() }
