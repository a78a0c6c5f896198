package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/admin"
	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/demo"
	"github.com/heraldrt/herald/historyhttp"
	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/sse"
	"github.com/heraldrt/herald/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// server wires the parts together for one `herald serve`.
type server struct {
	cfg     Config
	log     *slog.Logger
	backend backend
	hub     *hub.Hub
	auth    *authn.Authenticator // nil when nothing authenticates
	http    *http.Server
	ready   atomic.Bool
	tls     *certReloader // nil without tls.cert_file
	fdLimit uint64        // the open-file limit, 0 if unknown
	fdWarn  prometheus.Counter
}

func newServer(cfg Config, log *slog.Logger) (*server, error) {
	var certs *certReloader
	if cfg.TLS.CertFile != "" {
		var err error
		if certs, err = newCertReloader(cfg.TLS, log); err != nil {
			return nil, err
		}
	}
	m := metrics.New()
	fdLimit := raiseNoFile(log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	authn, err := newAuthenticator(ctx, cfg, m, log)
	if err != nil {
		return nil, err
	}
	hubAuth, rpcForward, headers := authWiring(authn)
	be, err := newBackend(cfg, log)
	if err != nil {
		authn.Close()
		return nil, err
	}
	h := hub.New(hub.Config{
		Namespaces:          namespaces(cfg),
		ChannelLimit:        cfg.Client.ChannelLimit,
		QueueSize:           int(cfg.Client.QueueSize),
		PingInterval:        time.Duration(cfg.Client.PingInterval),
		PongTimeout:         time.Duration(cfg.Client.PongTimeout),
		ConnectTimeout:      time.Duration(cfg.Client.ConnectTimeout),
		MaxErrors:           cfg.Client.MaxErrors,
		PublishRate:         float64(cfg.Client.PublishRate),
		PublishBurst:        cfg.Client.PublishBurst,
		RecoveryMax:         cfg.Client.RecoveryMax,
		IdempotencyWindow:   time.Duration(cfg.API.IdempotencyWindow),
		ReconnectWindow:     time.Duration(cfg.Shutdown.ReconnectWindow),
		Presence:            be.presence,
		RPC:                 rpcMethods(cfg),
		RPCForward:          rpcForward,
		Auth:                hubAuth,
		ExpireGrace:         time.Duration(cfg.Client.ExpireGrace),
		UserConnectionLimit: cfg.Client.UserConnectionLimit,
		PersonalNamespace:   cfg.Client.PersonalNamespace,
		NodeName:            cfg.Name,
		TimelineSize:        cfg.Admin.TimelineSize,
		TimelineKeep:        cfg.Admin.TimelineKeep,
		TimelineKeepFor:     time.Duration(cfg.Admin.TimelineKeepFor),
		TraceRedact:         cfg.Admin.Redact,
		Version:             version,
		Logger:              log,
		Metrics:             m,
	}, be.broker)
	s := &server{cfg: cfg, log: log, backend: be, hub: h, auth: authn, tls: certs, fdLimit: fdLimit}

	mux := http.NewServeMux()
	ws := websocket.NewHandler(websocket.Options{
		MaxMessageSize:       int(cfg.WebSocket.MaxMessageSize),
		Compression:          cfg.WebSocket.Compression,
		CompressionThreshold: int(cfg.WebSocket.CompressionThreshold),
		OriginPatterns:       cfg.WebSocket.Origins,
		Hosts:                ownHosts(cfg),
		Admission:            admissionOptions(cfg.Admission),
		WriteTimeout:         time.Duration(cfg.WebSocket.WriteTimeout),
		ReadBufferSize:       int(cfg.WebSocket.ReadBufferSize),
		Engine:               cfg.WebSocket.Engine,
		Headers:              headers,
		Logger:               log,
		Metrics:              m,
	}, h)
	mux.Handle("/connection/websocket", ws)
	fallback := sse.NewHandler(sse.Options{
		MaxMessageSize: int(cfg.WebSocket.MaxMessageSize),
		OriginPatterns: cfg.WebSocket.Origins,
		Hosts:          ownHosts(cfg),
		WriteTimeout:   time.Duration(cfg.WebSocket.WriteTimeout),
		Headers:        headers,
		Logger:         log,
		Metrics:        m,
	}, h, h)
	// The streams share WebSocket's admission budget; a POST to an open
	// session is not a new connection.
	mux.Handle("/connection/sse", ws.Admitted(fallback.SSE()))
	mux.Handle("/connection/http_stream", ws.Admitted(fallback.HTTPStream()))
	mux.Handle("/connection/emulation", fallback.Emulation())
	mux.Handle("/api/", api.NewHandler(api.Options{
		Key:         cfg.APIKey,
		MaxBodySize: int64(cfg.API.MaxBodySize),
		Logger:      log,
		Metrics:     m,
	}, h))
	mux.Handle("/admin/api/", admin.NewHandler(admin.Options{Secret: cfg.Admin.Secret, MaxBodySize: int64(cfg.API.MaxBodySize), Logger: log}, h))
	adminUI := admin.UI(cfg.Admin.Secret)
	mux.Handle("/admin/", adminUI)
	mux.Handle("/admin", adminUI)
	// Answers 400 not_available for namespaces without history_http.
	mux.Handle("GET /history/{channel}", historyhttp.NewHandler(historyhttp.Options{Logger: log, Metrics: m}, h))
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			writeStatus(w, http.StatusServiceUnavailable, "draining")
			return
		}
		if be.ready != nil && !be.ready(r.Context()) {
			writeStatus(w, http.StatusServiceUnavailable, "broker unavailable")
			return
		}
		writeStatus(w, http.StatusOK, "ready")
	})
	if cfg.Dev {
		// The chat demo; outside dev mode / is not routed at all (404).
		// Without an HMAC secret (only a public key or JWKS configured) it
		// cannot mint tokens and the page connects anonymously.
		d := demo.Handler(demo.Options{Secret: cfg.Token.HMACSecret, Logger: log})
		mux.Handle("GET /{$}", d)
		mux.Handle("/demo/", d)
	}
	if cfg.Debug.Pprof {
		admin := adminOnly(cfg.Admin.Secret)
		mux.Handle("/debug/pprof/", admin(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/profile", admin(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", admin(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", admin(http.HandlerFunc(pprof.Trace)))
	}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState:         handshakeLimiter(cfg.Admission, fdLimit, log, m).ConnState,
	}
	s.fdWarn = fdWarnings(m)
	return s, nil
}

// namespaces turns the config's channel options into the hub's.
func namespaces(cfg Config) herald.Namespaces {
	conv := func(n NamespaceConfig) herald.NamespaceOptions {
		return herald.NamespaceOptions{
			AllowPublish:     n.AllowPublish,
			MaxChannelLength: n.MaxChannelLength,
			HistorySize:      n.HistorySize,
			HistoryTTL:       time.Duration(n.HistoryTTL),
			Presence:         n.Presence,
			JoinLeave:        n.JoinLeave,
			HistoryHTTP:      n.HistoryHTTP,
			SubscribeAccess:  herald.Access(n.SubscribeAccess),
			PublishAccess:    herald.Access(n.PublishAccess),
			HistoryAccess:    herald.Access(n.HistoryAccess),
			PresenceAccess:   herald.Access(n.PresenceAccess),
		}
	}
	ns := herald.Namespaces{Default: conv(cfg.Channel), Named: map[string]herald.NamespaceOptions{}, AnyNamespace: cfg.Dev}
	for name, n := range cfg.Namespaces {
		ns.Named[name] = conv(n)
	}
	return ns
}

// authWiring hands the authenticator's parts to the hub and the transport,
// leaving each nil (a nil interface, not a nil pointer in one) when the
// configuration has no such part.
func authWiring(a *authn.Authenticator) (hub.Authenticator, hub.RPCForwarder, func(http.Header) map[string]string) {
	if a == nil {
		return nil, nil, nil
	}
	var fwd hub.RPCForwarder
	var headers func(http.Header) map[string]string
	if a.Has(hooks.RPCHook) {
		fwd = a.RPC
	}
	if a.Has(hooks.ConnectHook) {
		headers = a.ForwardedHeaders
	}
	return a, fwd, headers
}

// adminOnly guards operator endpoints with the admin secret, compared in
// constant time, when one is configured.
func adminOnly(secret string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if secret == "" {
			return next
		}
		return admin.Guard(secret, next)
	}
}

// rpcMethods are the RPC methods built in: echo in development mode.
// Applications add theirs through the backend hooks.
func rpcMethods(cfg Config) map[string]hub.RPCHandler {
	if !cfg.Dev {
		return nil
	}
	return map[string]hub.RPCHandler{"echo": hub.EchoRPC}
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
}

// run serves until ctx ends, then shuts down gracefully: not ready, no new
// connections, clients told to reconnect over the drain window, exit.
func (s *server) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: the address is already in use (another herald?): stop that process or listen elsewhere with --listen, HERALD_LISTEN or listen: in the config file", s.cfg.Listen)
	}
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set the address with --listen, HERALD_LISTEN or listen: in the config file)", s.cfg.Listen, err)
	}
	if err := s.hub.Start(); err != nil {
		ln.Close()
		return err
	}
	s.ready.Store(true)
	ln, scheme, wsScheme, stopTLS := s.wrapTLS(ln)
	defer stopTLS()
	addr := ln.Addr().String()
	api := "disabled (no api_key)"
	if s.cfg.APIKey != "" {
		api = scheme + "://" + addr + "/api/"
	}
	s.log.Info("serving", "addr", addr,
		"websocket", wsScheme+"://"+addr+"/connection/websocket",
		"api", api, "metrics", scheme+"://"+addr+"/metrics",
		"broker", s.cfg.Broker, "version", version)
	if s.cfg.Dev {
		s.log.Info("chat demo (dev mode): open it in a browser", "url", scheme+"://"+addr+"/")
	}

	fdCtx, stopFDs := context.WithCancel(ctx)
	fdsDone := make(chan struct{})
	go func() {
		defer close(fdsDone)
		watchDescriptors(fdCtx, s.fdLimit, 2*time.Second, s.log, s.fdWarn)
	}()
	defer func() { stopFDs(); <-fdsDone }()
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err := <-errc:
		s.hub.Close()
		s.backend.close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return s.shutdown()
}

func (s *server) shutdown() error {
	s.ready.Store(false)
	drain := time.Duration(s.cfg.Shutdown.Drain)
	s.log.Info("shutting down", "connections", s.hub.Info().NumClients, "drain", drain)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.Shutdown.Timeout))
	defer cancel()

	// The listener stays open for the whole drain window, even once no
	// client is left: a load balancer polling /readyz must get 503 to take
	// the node out, where a closed port would only look like a crash, and
	// a client that still arrives is upgraded and told by the draining hub
	// to reconnect elsewhere (4000) rather than refused.
	drainEnd := time.NewTimer(drain)
	defer drainEnd.Stop()
	var errs []error
	if err := s.hub.Shutdown(ctx, drain); err != nil {
		errs = append(errs, err)
	}
	select {
	case <-drainEnd.C:
	case <-ctx.Done():
	}
	// Hijacked WebSockets are not the HTTP server's to close: the hub has
	// told them to reconnect.
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := s.hub.Close(); err != nil {
		errs = append(errs, err)
	}
	s.backend.close()
	s.auth.Close()
	s.log.Info("stopped")
	return errors.Join(errs...)
}
