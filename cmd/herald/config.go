package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Config is the whole server configuration: the YAML file's shape, with the
// defaults from defaultConfig. Every leaf is also settable as an environment
// variable named HERALD_ plus its path in upper case with "_" for "." (e.g.
// client.ping_interval is HERALD_CLIENT_PING_INTERVAL); flags win over the
// environment, which wins over the file. The doc tags feed
// `herald config defaults` and docs/configuration.md.
type Config struct {
	Listen string `yaml:"listen" doc:"Address to listen on, host:port. Use 0.0.0.0:8000 to accept connections from other machines."`
	APIKey string `yaml:"api_key" doc:"Key for the server HTTP API (header 'Authorization: apikey KEY'). Empty disables the API, except in dev mode, which makes a random one."`
	Dev    bool   `yaml:"dev" doc:"Development mode: anonymous connections; client publish, history, presence and join/leave in every channel, any namespace; the RPC method echo; the chat demo at / (signing its tokens with a random token.hmac_secret when no token key is set). Insecure: never in production."`
	Name   string `yaml:"name" doc:"This node's name in the API's info, for people (empty: the host name); nodes are told apart by their id, new at every start."`

	Token      TokenConfig                `yaml:"token"`
	Hooks      HooksConfig                `yaml:"hooks"`
	Admin      AdminConfig                `yaml:"admin"`
	Log        LogConfig                  `yaml:"log"`
	WebSocket  WebSocketConfig            `yaml:"websocket"`
	Client     ClientConfig               `yaml:"client"`
	API        APIConfig                  `yaml:"api"`
	Shutdown   ShutdownConfig             `yaml:"shutdown"`
	Channel    NamespaceConfig            `yaml:"channel" doc:"Options of channels without a namespace (no ':' in the name)."`
	Namespaces map[string]NamespaceConfig `yaml:"namespaces" doc:"Options per namespace: a channel 'chat:lobby' uses namespaces.chat. A channel in a namespace not listed here is refused."`
	Debug      DebugConfig                `yaml:"debug"`
	Broker     string                     `yaml:"broker" doc:"Where publications, history and presence live: memory (this process only) or redis (every node sharing the Redis in the redis section)."`
	Redis      RedisConfig                `yaml:"redis"`
	TLS        TLSConfig                  `yaml:"tls"`
	Admission  AdmissionConfig            `yaml:"admission"`
}

// AdmissionConfig caps how fast clients are let in, so that a restart
// bringing them all back at once does not take the node down again.
type AdmissionConfig struct {
	Rate               int      `yaml:"rate" doc:"New connections (WebSocket upgrades and SSE or HTTP-streaming streams) per second one node admits (0: no limit); past it (and burst) the request gets HTTP 503 with Retry-After, spreading the refused clients over the coming seconds at this rate."`
	Burst              int      `yaml:"burst" doc:"New connections one node admits at once above rate (0: twice rate)."`
	RatePerIP          int      `yaml:"rate_per_ip" doc:"New connections (WebSocket or fallback streams) per second from one client address (0: no limit); 503 with Retry-After past it. Loopback peers are not counted unless client_ip_header is set."`
	BurstPerIP         int      `yaml:"burst_per_ip" doc:"New connections one address may open at once above rate_per_ip (0: twice rate_per_ip)."`
	MaxWait            Duration `yaml:"max_wait" doc:"Longest Retry-After given to a refused client."`
	MaxHandshakes      int      `yaml:"max_handshakes" doc:"Connections whose HTTP request is not read yet that one node holds (0: half the open-file limit); past it new ones get a bare 503 with Retry-After and are closed, so slow clients cannot use up the descriptors."`
	MaxHandshakesPerIP int      `yaml:"max_handshakes_per_ip" doc:"Unfinished requests from one TCP peer address (0: no limit; loopback peers are not counted). Not applied with client_ip_header: behind a proxy, let the proxy time out slow clients."`
	ClientIPHeader     string   `yaml:"client_ip_header" doc:"Header a trusted proxy puts the client's address in, for the per-IP caps: X-Forwarded-For (its last entry) or X-Real-IP. Empty: the TCP peer. Set it only behind a proxy that overwrites it, or clients pick their own address."`
}

// TLSConfig lets serve terminate TLS itself, so a small deployment needs
// no proxy in front.
type TLSConfig struct {
	CertFile string `yaml:"cert_file" doc:"PEM certificate chain to serve TLS with (https://, wss://) on the listen address; with key_file. Re-read on SIGHUP without dropping connections (a bad file keeps the old certificate and logs why). Empty: plain HTTP."`
	KeyFile  string `yaml:"key_file" doc:"PEM private key of cert_file."`
}

// RedisConfig is the Redis that nodes share with broker: redis.
type RedisConfig struct {
	Address        []string `yaml:"address" doc:"Redis host:port. Several: independent Redis servers that channels are split across (shards; every node must list them in the same order). With cluster: any nodes of the Redis Cluster."`
	Username       string   `yaml:"username" doc:"Redis ACL user name (AUTH); empty: the default user."`
	Password       string   `yaml:"password" doc:"Redis password (AUTH); empty: none."`
	DB             int      `yaml:"db" doc:"Redis database number; must be 0 with cluster. Pub/sub ignores it: deployments sharing a Redis need different prefixes."`
	TLS            bool     `yaml:"tls" doc:"Connect to Redis over TLS, verifying its certificate against the system roots (or tls_ca_file)."`
	TLSCAFile      string   `yaml:"tls_ca_file" doc:"PEM file of the CA that signed Redis's certificate, instead of the system roots."`
	TLSServerName  string   `yaml:"tls_server_name" doc:"Name to verify Redis's certificate against, when it differs from the address's host."`
	Prefix         string   `yaml:"prefix" doc:"Start of every Redis key and pub/sub channel Herald uses; no { or }."`
	Cluster        bool     `yaml:"cluster" doc:"The addresses are a Redis Cluster: keys follow its slots and publications use sharded pub/sub (SPUBLISH)."`
	Timeout        Duration `yaml:"timeout" doc:"Longest wait for one Redis command; when Redis is down, publishing answers 503 (code 114) after at most this long."`
	PresenceTTL    Duration `yaml:"presence_ttl" doc:"How long a presence entry outlives its node: each node refreshes its entries every third of it, so a dead node's clients leave presence within it."`
	ReconnectDelay Duration `yaml:"reconnect_delay" doc:"First wait before reconnecting a lost Redis pub/sub connection; doubles up to 2s."`
}

// TokenConfig verifies the JWTs the application backend issues.
type TokenConfig struct {
	HMACSecret    string   `yaml:"hmac_secret" doc:"HMAC secret for HS256/384/512 tokens, at least 32 bytes. With any token key set and no dev mode, anonymous connections are refused."`
	PublicKey     string   `yaml:"public_key" doc:"PEM public key (RSA: RS256/384/512, ECDSA: ES256/384/512, Ed25519: EdDSA) for tokens signed with the matching private key."`
	PublicKeyFile string   `yaml:"public_key_file" doc:"File holding the PEM public key, instead of public_key."`
	JWKSURL       string   `yaml:"jwks_url" doc:"URL of a JWKS (JSON Web Key Set): keys fetched, cached, refreshed on an unknown kid, rotated without restart."`
	Audience      string   `yaml:"audience" doc:"Required aud claim, when set."`
	Issuer        string   `yaml:"issuer" doc:"Required iss claim, when set."`
	Leeway        Duration `yaml:"leeway" doc:"Clock skew allowed when checking exp, nbf and iat."`
	Algorithms    []string `yaml:"algorithms" doc:"Allowed signing algorithms; empty: exactly those of the configured keys. none is never allowed."`
}

// HooksConfig calls the application backend over HTTP, so it can use its
// own sessions and cookies instead of tokens.
type HooksConfig struct {
	ConnectURL     string   `yaml:"connect_url" doc:"Called on connect with the handshake's forwarded headers (cookies): answers the user, info, channels and expiry, or refuses."`
	RefreshURL     string   `yaml:"refresh_url" doc:"Called when a hook-authenticated connection refreshes its credentials: answers a new expiry, or refuses."`
	SubscribeURL   string   `yaml:"subscribe_url" doc:"Called on subscribe to channels whose namespace has subscribe_access: token when no token was sent."`
	PublishURL     string   `yaml:"publish_url" doc:"Called on client publish where the namespace has publish_access: hook; may refuse or rewrite the data."`
	RPCURL         string   `yaml:"rpc_url" doc:"Client rpc calls are forwarded here."`
	Timeout        Duration `yaml:"timeout" doc:"Longest wait for the backend; a slower backend gives the client a temporary error (114)."`
	ForwardHeaders []string `yaml:"forward_headers" doc:"Handshake headers passed to the connect hook."`
	Headers        []string `yaml:"headers" doc:"Static headers sent with every hook call, as 'Name: value' (e.g. a shared secret so the backend knows the call is Herald's)."`
}

// AdminConfig protects operator endpoints.
type AdminConfig struct {
	Secret          string   `yaml:"secret" doc:"Secret for admin endpoints (/debug/pprof/, /admin/api/, the web UI at /admin/), sent as 'Authorization: admin SECRET'; separate from the API key. Empty leaves pprof unprotected (keep it on a private listener) and turns the admin API and UI off."`
	TimelineSize    int      `yaml:"timeline_size" doc:"Events kept in each connection's timeline (handshake, connect, subscribes, the disconnect...); older ones are dropped, but for the handshake."`
	TimelineKeep    int      `yaml:"timeline_keep" doc:"Closed connections whose timelines each node keeps for the admin API."`
	TimelineKeepFor Duration `yaml:"timeline_keep_for" doc:"How long a closed connection's timeline is kept."`
	Redact          []string `yaml:"redact" doc:"JSON keys whose values 'herald trace' shows as [redacted], at any depth of a frame; token is always redacted."`
}

type LogConfig struct {
	Level  string `yaml:"level" doc:"debug, info, warn or error."`
	Format string `yaml:"format" doc:"text or json."`
}

type WebSocketConfig struct {
	MaxMessageSize       Size     `yaml:"max_message_size" doc:"Largest message a client may send; a larger one closes the connection with 1009."`
	Compression          bool     `yaml:"compression" doc:"Negotiate permessage-deflate (RFC 7692) without context takeover."`
	CompressionThreshold Size     `yaml:"compression_threshold" doc:"Messages shorter than this are sent uncompressed."`
	Origins              []string `yaml:"origins" doc:"Origins allowed besides the server's own, as host patterns (e.g. 'app.example.com', '*.example.com'); '*' allows all. Origin is not authentication: non-browser clients can send any."`
	Hosts                []string `yaml:"hosts" doc:"This server's own host names (e.g. 'chat.example.com', '*.example.com'): a browser whose Origin equals the request's Host is same-origin only for these, IP addresses, loopback names and the listen address's host, so a DNS rebinding page is refused. Behind a proxy, list the public names clients use."`
	WriteTimeout         Duration `yaml:"write_timeout" doc:"A write to a client that takes longer closes the connection."`
	ReadBufferSize       Size     `yaml:"read_buffer_size" doc:"Read buffer per connection with engine goroutine; smaller saves memory per idle connection."`
	Engine               string   `yaml:"engine" doc:"How connections are read: epoll (Linux; no goroutine or buffer per idle connection) or goroutine (one parked reader per connection, the engine before epoll). TLS connections always use goroutine."`
}

type ClientConfig struct {
	ChannelLimit        int      `yaml:"channel_limit" doc:"Most channels one connection may subscribe to."`
	QueueSize           Size     `yaml:"queue_size" doc:"Most bytes queued for one connection; a client that falls further behind is disconnected with code 4001 (slow)."`
	PingInterval        Duration `yaml:"ping_interval" doc:"How often the server pings each connection. Keep it under your proxies' idle timeouts (nginx: 60s)."`
	PongTimeout         Duration `yaml:"pong_timeout" doc:"How long a client has to answer a ping before it is disconnected with 4002 (no_pong)."`
	ConnectTimeout      Duration `yaml:"connect_timeout" doc:"How long a new connection has to send connect before it is closed with 4003."`
	MaxErrors           int      `yaml:"max_errors" doc:"Invalid commands one connection may send before it is disconnected with 4501 (too_many_errors)."`
	PublishRate         int      `yaml:"publish_rate" doc:"Client publications per second one connection may send (0: no limit); more get error 115 (too_many_requests)."`
	PublishBurst        int      `yaml:"publish_burst" doc:"Client publications one connection may send at once above publish_rate."`
	RecoveryMax         int      `yaml:"recovery_max" doc:"Most publications replayed to one subscribe with recover; a client that missed more gets recovered: false and refetches."`
	AllowAnonymous      bool     `yaml:"allow_anonymous" doc:"Admit connections without credentials even when tokens or a connect hook are configured (they always are without either, and in dev mode)."`
	ExpireGrace         Duration `yaml:"expire_grace" doc:"How long a connection or subscription may outlive its token's expiry before it is closed (4005 expired) or ended."`
	UserConnectionLimit int      `yaml:"user_connection_limit" doc:"Most connections one user may have on all nodes together (0: no limit); more are closed with 4504."`
	PersonalNamespace   string   `yaml:"personal_namespace" doc:"When set, every authenticated connection is subscribed to its user's channel '<namespace>:#<user>' at connect."`
}

type APIConfig struct {
	MaxBodySize       Size     `yaml:"max_body_size" doc:"Largest server API request body."`
	IdempotencyWindow Duration `yaml:"idempotency_window" doc:"How long a publish's idempotency_key is remembered: a retry within it returns the first result instead of publishing twice."`
}

type ShutdownConfig struct {
	Drain   Duration `yaml:"drain" doc:"On SIGTERM, /readyz answers 503 and clients are told to reconnect spread over this window, so they do not all come back at once; the port stays open (new clients are told to reconnect too) and closes at its end."`
	Timeout Duration `yaml:"timeout" doc:"Longest wait for connections to close on shutdown before exiting anyway."`
	// ReconnectWindow is shutdown.reconnect_window: see hub.Config.
	ReconnectWindow Duration `yaml:"reconnect_window" doc:"Clients a drain disconnects are told when to come back (the disconnect push's reconnect_in), spread evenly over this window counted from SIGTERM, so that the nodes left get them at an even rate; at least shutdown.drain. Each client is offline (window − drain)/2 on average; clients cap the wait at their own maximum reconnect delay (20s by default). 0: no advice, each client's own backoff."`
}

type NamespaceConfig struct {
	AllowPublish     bool     `yaml:"allow_publish" doc:"Clients may publish over their connection (otherwise only the server API publishes)."`
	MaxChannelLength int      `yaml:"max_channel_length" doc:"Longest channel name in bytes, namespace included."`
	HistorySize      int      `yaml:"history_size" doc:"Publications kept per channel (0: none); with history, publications carry an offset and an epoch."`
	HistoryTTL       Duration `yaml:"history_ttl" doc:"How long a channel's history outlives its last publication. Required with history_size."`
	Presence         bool     `yaml:"presence" doc:"Keep who is subscribed, for the presence and presence_stats commands and API methods."`
	JoinLeave        bool     `yaml:"join_leave" doc:"Send join and leave pushes to subscribers when a client subscribes, unsubscribes or disconnects."`
	SubscribeAccess  string   `yaml:"subscribe_access" doc:"Who may subscribe: anyone, user (authenticated), or token (a subscription token, or the subscribe hook's approval)."`
	PublishAccess    string   `yaml:"publish_access" doc:"Who may publish where allow_publish is set: anyone, user, subscriber, or hook (the publish hook decides)."`
	HistoryAccess    string   `yaml:"history_access" doc:"Who may read history: subscriber, user or anyone."`
	HistoryHTTP      bool     `yaml:"history_http" doc:"Serve the channels' history at GET /history/{channel}, cacheable by HTTP caches and CDNs (docs/api.md); the same access rules as a subscribe apply."`
	PresenceAccess   string   `yaml:"presence_access" doc:"Who may read presence: subscriber, user or anyone."`
}

type DebugConfig struct {
	Pprof bool `yaml:"pprof" doc:"Serve Go's profiler at /debug/pprof/ (no authentication: keep the listener private)."`
}

func defaultConfig() Config {
	return Config{
		Listen: "127.0.0.1:8000",
		Log:    LogConfig{Level: "info", Format: "text"},
		WebSocket: WebSocketConfig{
			MaxMessageSize:       64 << 10,
			Compression:          true,
			CompressionThreshold: 512,
			WriteTimeout:         Duration(10 * time.Second),
			ReadBufferSize:       128,
			Engine:               "epoll",
		},
		Client: ClientConfig{
			ChannelLimit:   128,
			QueueSize:      1 << 20,
			PingInterval:   Duration(25 * time.Second),
			PongTimeout:    Duration(10 * time.Second),
			ConnectTimeout: Duration(10 * time.Second),
			MaxErrors:      20,
			PublishRate:    20,
			PublishBurst:   40,
			RecoveryMax:    1000,
			ExpireGrace:    Duration(10 * time.Second),
		},
		Token: TokenConfig{Leeway: Duration(5 * time.Second)},
		Hooks: HooksConfig{
			Timeout:        Duration(3 * time.Second),
			ForwardHeaders: []string{"Cookie", "Authorization", "User-Agent", "X-Forwarded-For", "Origin"},
		},
		Admin:     AdminConfig{TimelineSize: 32, TimelineKeep: 1000, TimelineKeepFor: Duration(15 * time.Minute)},
		Admission: AdmissionConfig{Rate: 1000, RatePerIP: 20, MaxWait: Duration(30 * time.Second), MaxHandshakesPerIP: 64},
		API:       APIConfig{MaxBodySize: 1 << 20, IdempotencyWindow: Duration(5 * time.Minute)},
		Shutdown:  ShutdownConfig{Drain: Duration(5 * time.Second), Timeout: Duration(30 * time.Second), ReconnectWindow: Duration(10 * time.Second)},
		Broker:    "memory",
		Redis: RedisConfig{Address: []string{"127.0.0.1:6379"}, Prefix: "herald", Timeout: Duration(5 * time.Second),
			PresenceTTL: Duration(30 * time.Second), ReconnectDelay: Duration(100 * time.Millisecond)},
		Channel: NamespaceConfig{MaxChannelLength: 255, SubscribeAccess: "anyone", PublishAccess: "anyone",
			HistoryAccess: "subscriber", PresenceAccess: "subscriber"},
	}
}

// Size is a byte count, written as 65536, 64KB, 64KiB or 1MB (KB = 1024 bytes).
type Size int64

// Duration is a time.Duration written as Go does: 25s, 1m30s, 500ms.
type Duration time.Duration

// sizeUnits maps the suffixes a Size accepts to their multipliers. KB and
// KiB are both 1024 because that is what people mean when they size buffers.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1 << 10, "kib": 1 << 10,
	"mb": 1 << 20, "mib": 1 << 20,
	"gb": 1 << 30, "gib": 1 << 30,
}

// UnmarshalText's errors are whole sentences so the loader can put them
// after a key path as they are.
func (s *Size) UnmarshalText(text []byte) error {
	bad := fmt.Errorf("expected a size like 65536, 64KB or 1MiB, got %q", text)
	str := strings.TrimSpace(string(text))
	digits := len(str) - len(strings.TrimLeft(str, "0123456789"))
	if digits == 0 {
		return bad
	}
	mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(str[digits:]))]
	if !ok {
		return bad
	}
	n, err := strconv.ParseInt(str[:digits], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return fmt.Errorf("size %q is too large", text)
	}
	*s = Size(n * mult)
	return nil
}

// MarshalText picks the largest unit that divides the size exactly, so
// printed defaults read as written (64KiB, not 65536) and parse back equal.
func (s Size) MarshalText() ([]byte, error) {
	for _, u := range []struct {
		suffix string
		mult   Size
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && s%u.mult == 0 {
			return []byte(strconv.FormatInt(int64(s/u.mult), 10) + u.suffix), nil
		}
	}
	return []byte(strconv.FormatInt(int64(s), 10)), nil
}

func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(text)))
	if err != nil {
		return fmt.Errorf("expected a duration like 25s or 1m30s, got %q", text)
	}
	*d = Duration(v)
	return nil
}

// MarshalText drops the zero tails time.Duration prints ("5m0s" is "5m").
func (d Duration) MarshalText() ([]byte, error) {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return []byte(s), nil
}

func (d Duration) String() string {
	b, _ := d.MarshalText()
	return string(b)
}

func (s Size) String() string {
	b, _ := s.MarshalText()
	return string(b)
}
