package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// problems collects every validation failure so a user fixes a file in one
// pass instead of one error per run.
type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &keyError{path: path, msg: fmt.Sprintf(format, args...)})
}

// addError adds an error of a part that names the key it is about at its
// start ("auth: token.leeway: ..." or "hooks.connect_url: ..."), as a
// *keyError of that key so its origin can be found; errors naming no known
// key are filed under fallback.
func (p *problems) addError(fallback string, err error) {
	msg := strings.TrimPrefix(err.Error(), "auth: ")
	path, rest, _ := strings.Cut(msg, " ")
	path = strings.TrimSuffix(path, ":")
	if _, ok := keyByPath(path); ok {
		*p = append(*p, &keyError{path: path, msg: strings.TrimSpace(rest)})
		return
	}
	*p = append(*p, &keyError{path: fallback, msg: msg})
}

// validate checks what parsing cannot: ranges, enumerations and keys that
// depend on each other. Every problem is reported, each as a *keyError
// naming its key path, joined with errors.Join.
func (c *Config) validate() error {
	var p problems
	c.validateServer(&p)
	c.validateWebSocket(&p)
	c.validateClient(&p)
	if c.API.MaxBodySize <= 0 {
		p.add("api.max_body_size", "must be more than 0, got %s", c.API.MaxBodySize)
	}
	c.validateAuth(&p)
	c.validateBroker(&p)
	c.validateAdmission(&p)
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		p.add("tls", "cert_file and key_file go together: set both (--tls-cert, --tls-key) or neither")
	}
	var parts problems
	c.validateParts(&parts)
	for _, e := range parts {
		// A key already reported above would be reported twice, in
		// other words.
		path := e.(*keyError).path
		if !slices.ContainsFunc(p, func(o error) bool { return o.(*keyError).path == path }) {
			p = append(p, e)
		}
	}
	if c.API.IdempotencyWindow <= 0 {
		p.add("api.idempotency_window", "must be more than 0, got %s", c.API.IdempotencyWindow)
	}
	if c.Shutdown.Drain < 0 {
		p.add("shutdown.drain", "must not be negative, got %s", c.Shutdown.Drain)
	}
	if c.Shutdown.ReconnectWindow < 0 {
		p.add("shutdown.reconnect_window", "must not be negative (0 switches the advice off), got %s", c.Shutdown.ReconnectWindow)
	}
	if c.Shutdown.Timeout <= 0 {
		p.add("shutdown.timeout", "must be more than 0, got %s", c.Shutdown.Timeout)
	} else if c.Shutdown.Drain >= c.Shutdown.Timeout {
		// The drain runs inside the timeout: when it expires, the clients
		// not yet drained are disconnected all at once, the thundering
		// herd the drain exists to prevent.
		p.add("shutdown.drain", "must be shorter than shutdown.timeout (%s), got %s", c.Shutdown.Timeout, c.Shutdown.Drain)
	}
	c.Channel.validate(&p, "channel", c.Dev)
	names := make([]string, 0, len(c.Namespaces))
	for name := range c.Namespaces {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := "namespaces." + name
		if !namespaceName.MatchString(name) {
			p.add(path, "%s", badNamespaceName)
		}
		ns := c.Namespaces[name]
		ns.validate(&p, path, c.Dev)
	}
	return errors.Join(p...)
}

func (c *Config) validateServer(p *problems) {
	if err := checkHostPort(c.Listen); err != nil {
		p.add("listen", "%v", err)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		p.add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		p.add("log.format", "must be text or json, got %q", c.Log.Format)
	}
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port like 127.0.0.1:8000 or :8000, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	return nil
}

func (c *Config) validateWebSocket(p *problems) {
	ws := &c.WebSocket
	// Below 128 bytes not even a connect command with a token fits.
	if ws.MaxMessageSize < 128 {
		p.add("websocket.max_message_size", "must be at least 128, got %s", ws.MaxMessageSize)
	}
	if ws.CompressionThreshold < 0 {
		p.add("websocket.compression_threshold", "must not be negative, got %s", ws.CompressionThreshold)
	}
	if ws.WriteTimeout <= 0 {
		p.add("websocket.write_timeout", "must be more than 0, got %s", ws.WriteTimeout)
	}
	if ws.ReadBufferSize <= 0 {
		p.add("websocket.read_buffer_size", "must be more than 0, got %s", ws.ReadBufferSize)
	}
	if ws.Engine != "epoll" && ws.Engine != "goroutine" {
		p.add("websocket.engine", "must be epoll or goroutine, got %q", ws.Engine)
	}
	for i, o := range ws.Origins {
		path := fmt.Sprintf("websocket.origins[%d]", i)
		switch {
		case strings.TrimSpace(o) == "":
			p.add(path, "must not be empty")
		case strings.Contains(o, "://"):
			p.add(path, "must be a host pattern like app.example.com, without the scheme, got %q", o)
		case strings.Contains(o, "/"):
			p.add(path, "must be a host pattern like app.example.com, without a path, got %q", o)
		}
	}
	validateHosts(p, ws.Hosts)
}

func (c *Config) validateAdmission(p *problems) {
	a := &c.Admission
	for _, f := range []struct {
		key string
		v   int
	}{{"rate", a.Rate}, {"burst", a.Burst}, {"rate_per_ip", a.RatePerIP}, {"burst_per_ip", a.BurstPerIP},
		{"max_handshakes", a.MaxHandshakes}, {"max_handshakes_per_ip", a.MaxHandshakesPerIP}} {
		if f.v < 0 {
			p.add("admission."+f.key, "must not be negative (0: no limit), got %d", f.v)
		}
	}
	if a.MaxWait <= 0 {
		p.add("admission.max_wait", "must be more than 0, got %s", a.MaxWait)
	}
}

func validateHosts(p *problems, hosts []string) {
	for i, h := range hosts {
		path := fmt.Sprintf("websocket.hosts[%d]", i)
		switch {
		case strings.TrimSpace(h) == "":
			p.add(path, "must not be empty")
		case strings.Contains(h, "/"):
			p.add(path, "must be a host name like chat.example.com, without scheme or path, got %q", h)
		}
	}
}

func (c *Config) validateClient(p *problems) {
	cl := &c.Client
	if cl.ChannelLimit < 1 {
		p.add("client.channel_limit", "must be at least 1, got %d", cl.ChannelLimit)
	}
	if cl.QueueSize <= 0 {
		p.add("client.queue_size", "must be more than 0, got %s", cl.QueueSize)
	}
	// Sub-second pings would cost more than the dead connections they find.
	if cl.PingInterval < Duration(time.Second) {
		p.add("client.ping_interval", "must be at least 1s, got %s", cl.PingInterval)
	}
	if cl.PongTimeout < Duration(time.Second) {
		p.add("client.pong_timeout", "must be at least 1s, got %s", cl.PongTimeout)
	}
	if cl.ConnectTimeout <= 0 {
		p.add("client.connect_timeout", "must be more than 0, got %s", cl.ConnectTimeout)
	}
	if cl.PublishRate < 0 {
		p.add("client.publish_rate", "must not be negative (0: no limit), got %d", cl.PublishRate)
	}
	if cl.PublishRate > 0 && cl.PublishBurst < 1 {
		p.add("client.publish_burst", "must be at least 1 when publish_rate is set, got %d", cl.PublishBurst)
	}
	if cl.RecoveryMax < 1 {
		p.add("client.recovery_max", "must be at least 1, got %d", cl.RecoveryMax)
	}
	if cl.MaxErrors < 1 {
		p.add("client.max_errors", "must be at least 1, got %d", cl.MaxErrors)
	}
}

// validate checks one namespace; dev is --dev, which gives history to
// every namespace after this check.
func (ns *NamespaceConfig) validate(p *problems, path string, dev bool) {
	if ns.MaxChannelLength < 1 || ns.MaxChannelLength > 1024 {
		p.add(path+".max_channel_length", "must be from 1 to 1024, got %d", ns.MaxChannelLength)
	}
	access := func(key, value string, allowed ...string) {
		if value != "" && !slices.Contains(allowed, value) { // "" takes the default
			p.add(path+"."+key, "must be one of %s, got %q", strings.Join(allowed, ", "), value)
		}
	}
	access("subscribe_access", ns.SubscribeAccess, "anyone", "user", "token")
	access("publish_access", ns.PublishAccess, "anyone", "user", "subscriber", "hook")
	access("history_access", ns.HistoryAccess, "subscriber", "user", "anyone")
	access("presence_access", ns.PresenceAccess, "subscriber", "user", "anyone")
	if ns.HistorySize < 0 {
		p.add(path+".history_size", "must not be negative, got %d", ns.HistorySize)
	}
	switch {
	case ns.HistoryTTL < 0:
		p.add(path+".history_ttl", "must not be negative, got %s", ns.HistoryTTL)
	case ns.HistorySize > 0 && ns.HistoryTTL == 0:
		// Without a TTL, the history of channels nobody publishes to any
		// more would be kept forever.
		p.add(path+".history_ttl", "must be set (e.g. 5m) when history_size is more than 0")
	}
	if ns.HistoryHTTP && ns.HistorySize == 0 && !dev {
		p.add(path+".history_http", "needs history_size (and history_ttl): there is no history to serve")
	}
}

func (c *Config) validateAuth(p *problems) {
	t := &c.Token
	if t.HMACSecret != "" && len(t.HMACSecret) < 32 {
		p.add("token.hmac_secret", "must be at least 32 bytes long (a shorter secret can be guessed offline from one token), got %d", len(t.HMACSecret))
	}
	if t.PublicKey != "" && t.PublicKeyFile != "" {
		p.add("token.public_key_file", "set public_key or public_key_file, not both")
	}
	if t.Leeway < 0 {
		p.add("token.leeway", "must not be negative, got %s", t.Leeway)
	}
	for _, alg := range t.Algorithms {
		if strings.EqualFold(alg, "none") {
			p.add("token.algorithms", "must not allow none: unsigned tokens would be accepted")
		}
	}
	urls := []struct{ key, url string }{
		{"token.jwks_url", t.JWKSURL}, {"hooks.connect_url", c.Hooks.ConnectURL},
		{"hooks.refresh_url", c.Hooks.RefreshURL}, {"hooks.subscribe_url", c.Hooks.SubscribeURL},
		{"hooks.publish_url", c.Hooks.PublishURL}, {"hooks.rpc_url", c.Hooks.RPCURL},
	}
	for _, u := range urls {
		if u.url != "" && !strings.HasPrefix(u.url, "http://") && !strings.HasPrefix(u.url, "https://") {
			p.add(u.key, "must be an absolute http:// or https:// URL, got %q", u.url)
		}
	}
	if c.Hooks.Timeout <= 0 {
		p.add("hooks.timeout", "must be more than 0, got %s", c.Hooks.Timeout)
	}
	for _, h := range c.Hooks.Headers {
		if name, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(name) == "" {
			p.add("hooks.headers", "entries are 'Name: value', got %q", h)
		}
	}
	if c.Client.ExpireGrace < 0 {
		p.add("client.expire_grace", "must not be negative, got %s", c.Client.ExpireGrace)
	}
	if c.Client.UserConnectionLimit < 0 {
		p.add("client.user_connection_limit", "must not be negative (0: no limit), got %d", c.Client.UserConnectionLimit)
	}
	if ns := c.Client.PersonalNamespace; ns != "" {
		if _, ok := c.Namespaces[ns]; !ok {
			p.add("client.personal_namespace", "names namespace %q, which is not configured under namespaces", ns)
		}
	}
}
