package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/historyhttp"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/sse"
	"github.com/heraldrt/herald/websocket"
)

// The client package must not import the server; its tests run against
// the real server stack (memory broker, hub, WebSocket and HTTP fallback
// transports) on a loopback port, so that every test is also an interop test of two
// WebSocket libraries (coder/websocket here, gws in the server).

// waitTimeout bounds every wait for an event. It is a deadlock guard, not
// an assertion about speed.
const waitTimeout = 15 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// namespaces: the default namespace allows client publish; "history" keeps
// history; "chat" keeps presence and sends join/leave; "readonly" refuses
// client publish.
func namespaces() herald.Namespaces {
	return herald.Namespaces{
		Default: herald.NamespaceOptions{AllowPublish: true},
		Named: map[string]herald.NamespaceOptions{
			"history":  {HistorySize: 1000, HistoryTTL: time.Minute, AllowPublish: true},
			"chat":     {Presence: true, JoinLeave: true, AllowPublish: true},
			"readonly": {},
			// History over HTTP (GET /history/), and a small one that trims.
			"feed":  {HistorySize: 1000, HistoryTTL: time.Minute, HistoryHTTP: true},
			"small": {HistorySize: 5, HistoryTTL: time.Minute, HistoryHTTP: true},
		},
	}
}

// server is an in-process Herald on a fixed loopback address, so that it
// can be killed and started again where its clients reconnect.
type server struct {
	addr   string
	cfg    hub.Config
	broker *keptBroker
	hub    *hub.Hub
	srv    *http.Server
	ln     *trackingListener
	served chan struct{}
	dials  atomic.Int64 // WebSocket handshakes attempted, across restarts
	// stripUpgrade makes every WebSocket handshake fail, as behind a
	// proxy that strips Upgrade.
	stripUpgrade atomic.Bool
	// historyDown makes GET /history/ answer 503, as a cache in trouble.
	historyDown atomic.Bool
	hmu         sync.Mutex
	historyURLs []string // every GET /history/ asked, across restarts
}

// historyReads returns the GET /history/ URLs asked so far (path and query).
func (s *server) historyReads() []string {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return append([]string(nil), s.historyURLs...)
}

// startServer starts a server on a port of its own. cfg.Namespaces
// defaults to namespaces(); RPC has "echo" and presence is on.
func startServer(cfg hub.Config) (*server, error) {
	if cfg.Namespaces.Named == nil {
		cfg.Namespaces = namespaces()
	}
	if cfg.RPC == nil {
		cfg.RPC = map[string]hub.RPCHandler{"echo": hub.EchoRPC}
	}
	cfg.Presence = memory.NewPresence()
	cfg.Logger = quiet
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{addr: ln.Addr().String(), cfg: cfg, broker: newKeptBroker()}
	if err := s.serve(ln); err != nil {
		s.broker.destroy()
		return nil, err
	}
	return s, nil
}

func newServer(t *testing.T, cfg hub.Config) *server {
	t.Helper()
	s, err := startServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *server) serve(ln net.Listener) error {
	h := hub.New(s.cfg, s.broker)
	if err := h.Start(); err != nil {
		ln.Close()
		return err
	}
	ws := websocket.NewHandler(websocket.Options{Logger: quiet, Metrics: s.cfg.Metrics}, h)
	fb := sse.NewHandler(sse.Options{Logger: quiet, Metrics: s.cfg.Metrics}, h, h)
	mux := http.NewServeMux()
	mux.Handle("/connection/sse", fb.SSE())
	mux.Handle("/connection/http_stream", fb.HTTPStream())
	mux.Handle("/connection/emulation", fb.Emulation())
	hist := historyhttp.NewHandler(historyhttp.Options{Logger: quiet, Metrics: s.cfg.Metrics}, h)
	mux.HandleFunc("GET /history/{channel}", func(w http.ResponseWriter, r *http.Request) {
		s.hmu.Lock()
		s.historyURLs = append(s.historyURLs, r.URL.RequestURI())
		s.hmu.Unlock()
		if s.historyDown.Load() {
			http.Error(w, "down for the test", http.StatusServiceUnavailable)
			return
		}
		hist.ServeHTTP(w, r)
	})
	mux.HandleFunc("/connection/websocket", func(w http.ResponseWriter, r *http.Request) {
		s.dials.Add(1)
		if s.stripUpgrade.Load() {
			// As a proxy that strips Upgrade does: the handshake fails.
			r.Header.Del("Upgrade")
		}
		ws.ServeHTTP(w, r)
	})
	s.hub, s.ln, s.served = h, &trackingListener{Listener: ln}, make(chan struct{})
	s.srv = &http.Server{Handler: mux, ErrorLog: slog.NewLogLogger(quiet.Handler(), slog.LevelError)}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(s.ln)
	}()
	return nil
}

// URL is the server's base URL; the client appends the endpoint.
func (s *server) URL() string { return "http://" + s.addr }

// kill ends the server the hard way: the listener closes and every
// connection is cut without a close frame, as when a process dies.
func (s *server) kill() {
	if s.hub == nil {
		return
	}
	_ = s.srv.Close()
	<-s.served
	s.ln.closeAll()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.hub.Shutdown(ctx, 0)
	_ = s.hub.Close()
	s.hub = nil
}

// restart starts a new server on the same address: with the same broker,
// whose history survives as Redis's would, or a fresh one (a memory broker
// that restarted: new epochs).
func (s *server) restart(fresh bool) error {
	if fresh {
		s.broker.destroy()
		s.broker = newKeptBroker()
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", s.addr, err)
	}
	return s.serve(ln)
}

func (s *server) stop() {
	s.kill()
	s.broker.destroy()
}

// publish publishes as the application backend does.
func (s *server) publish(t *testing.T, channel, data string) herald.StreamPosition {
	t.Helper()
	pos, err := s.hub.Publish(context.Background(), channel, []byte(data), hub.PublishRequest{Source: "api"})
	if err != nil {
		t.Fatalf("publish to %s: %v", channel, err)
	}
	return pos
}

// trackingListener remembers every connection it accepted, because
// http.Server.Close leaves hijacked (WebSocket) connections open.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// keptBroker is a memory broker that outlives the hubs started on it, as a
// Redis outlives a Herald node: a hub's Start attaches it and Close
// detaches it, and only destroy closes the memory broker.
type keptBroker struct {
	*memory.Broker
	mu sync.RWMutex
	h  herald.BrokerHandler
}

func newKeptBroker() *keptBroker {
	b := &keptBroker{Broker: memory.New()}
	if err := b.Broker.Start(b); err != nil {
		panic(err) // a new memory broker always starts
	}
	return b
}

func (b *keptBroker) Start(h herald.BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.h != nil {
		return errors.New("keptBroker: attached already")
	}
	b.h = h
	return nil
}

func (b *keptBroker) Close() error {
	b.mu.Lock()
	b.h = nil
	b.mu.Unlock()
	return nil
}

func (b *keptBroker) destroy() { _ = b.Broker.Close() }

func (b *keptBroker) handler() herald.BrokerHandler {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.h
}

func (b *keptBroker) HandlePublication(channel string, pub herald.Publication) {
	if h := b.handler(); h != nil {
		h.HandlePublication(channel, pub)
	}
}

func (b *keptBroker) HandleJoin(channel string, c herald.ClientInfo) {
	if h := b.handler(); h != nil {
		h.HandleJoin(channel, c)
	}
}

func (b *keptBroker) HandleLeave(channel string, c herald.ClientInfo) {
	if h := b.handler(); h != nil {
		h.HandleLeave(channel, c)
	}
}

func (b *keptBroker) HandleControl(data []byte) {
	if h := b.handler(); h != nil {
		h.HandleControl(data)
	}
}

// recorder collects a client's and its subscriptions' events in order.
type recorder struct {
	ch chan any
}

func newRecorder() *recorder { return &recorder{ch: make(chan any, 1<<16)} }

func (r *recorder) add(e any) {
	select {
	case r.ch <- e:
	default:
		panic("recorder full")
	}
}

// options sets every client callback of o (nil: new options) to record.
func (r *recorder) options(o *client.Options) *client.Options {
	if o == nil {
		o = &client.Options{}
	}
	o.OnConnecting = func(e client.ConnectingEvent) { r.add(e) }
	o.OnConnected = func(e client.ConnectedEvent) { r.add(e) }
	o.OnDisconnected = func(e client.DisconnectedEvent) { r.add(e) }
	o.OnError = func(err error) { r.add(err) }
	return o
}

// subOptions sets every subscription callback of o (nil: new options).
func (r *recorder) subOptions(o *client.SubscriptionOptions) *client.SubscriptionOptions {
	if o == nil {
		o = &client.SubscriptionOptions{}
	}
	o.OnSubscribing = func(e client.SubscribingEvent) { r.add(e) }
	o.OnSubscribed = func(e client.SubscribedEvent) { r.add(e) }
	o.OnUnsubscribed = func(e client.UnsubscribedEvent) { r.add(e) }
	o.OnPublication = func(p client.Publication) { r.add(p) }
	o.OnJoin = func(c client.ClientInfo) { r.add(joinEvent(c)) }
	o.OnLeave = func(c client.ClientInfo) { r.add(leaveEvent(c)) }
	return o
}

type (
	joinEvent  client.ClientInfo
	leaveEvent client.ClientInfo
)

// waitFor returns the next recorded event of type E for which match (nil:
// any) is true; the events before it are skipped, and returned too.
func waitFor[E any](t *testing.T, r *recorder, match func(E) bool) (E, []any) {
	t.Helper()
	var skipped []any
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		select {
		case e := <-r.ch:
			if v, ok := e.(E); ok && (match == nil || match(v)) {
				return v, skipped
			}
			skipped = append(skipped, e)
		case <-deadline.C:
			var zero E
			t.Fatalf("no %T event within %s; got %v", zero, waitTimeout, skipped)
			return zero, nil
		}
	}
}

// publications waits for the next n publications recorded.
func publications(t *testing.T, r *recorder, n int) []client.Publication {
	t.Helper()
	var out []client.Publication
	for len(out) < n {
		p, _ := waitFor[client.Publication](t, r, nil)
		out = append(out, p)
	}
	return out
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// connect starts a client for s with the recorder's callbacks and waits
// until it is connected; Close runs at the end of the test.
func connect(t *testing.T, s *server, r *recorder, o *client.Options) *client.Client {
	t.Helper()
	if o == nil {
		o = &client.Options{}
	}
	if o.MinReconnectDelay == 0 {
		o.MinReconnectDelay, o.MaxReconnectDelay = 10*time.Millisecond, 200*time.Millisecond
	}
	if r != nil {
		o = r.options(o)
	}
	c := client.New(s.URL(), o)
	t.Cleanup(func() { c.Close() })
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return c
}

// subscribe makes and subscribes a recorded subscription.
func subscribe(t *testing.T, c *client.Client, channel string, r *recorder, o *client.SubscriptionOptions) *client.Subscription {
	t.Helper()
	if r != nil {
		o = r.subOptions(o)
	}
	sub, err := c.NewSubscription(channel, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(ctxTimeout(t)); err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return sub
}
