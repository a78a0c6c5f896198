package hooks

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldrt/herald/metrics"
)

// Defaults of the Config fields left zero.
const (
	DefaultTimeout         = 3 * time.Second
	DefaultMaxResponseSize = 64 << 10
)

// DefaultForwardHeaders are the handshake headers the connect hook gets
// when Config.ForwardHeaders is nil.
var DefaultForwardHeaders = []string{"Cookie", "Authorization", "User-Agent", "X-Forwarded-For", "Origin"}

// Config says where the application's backend answers each hook and how
// Herald calls it. Zero fields take the defaults noted; the zero Config is
// valid and turns every hook off.
type Config struct {
	// ConnectURL is called when a client connects: the backend decides who
	// the connection's user is, typically from its session cookie. Empty:
	// the hook is off.
	ConnectURL string
	// RefreshURL is called when a connection's expire_at comes near: the
	// backend pushes the expiry back or refuses. Empty: the hook is off.
	RefreshURL string
	// SubscribeURL is called when a client subscribes: the backend allows
	// or refuses, and may attach info. Empty: the hook is off.
	SubscribeURL string
	// PublishURL is called when a client publishes: the backend allows,
	// refuses or rewrites the data. Empty: the hook is off.
	PublishURL string
	// RPCURL is called for a client's rpc command: the backend's answer is
	// the reply. Empty: the hook is off.
	RPCURL string

	// Timeout bounds one call, from dialing the backend to reading the last
	// byte of its answer. Default 3s. A call that runs out answers the
	// client ErrUnavailable. Danger: each pending call holds a client and
	// its goroutine; during a reconnect storm a long Timeout against a
	// struggling backend piles up thousands of them.
	Timeout time.Duration

	// ForwardHeaders names the headers of the client's WebSocket (or HTTP
	// fallback) handshake that the connect hook receives, in its body's
	// "headers" and as headers of the connect request itself. Cookie is how
	// the backend sees its own session: with it, the backend authenticates
	// the connection exactly as it would a page load. Nil means
	// DefaultForwardHeaders (Cookie, Authorization, User-Agent,
	// X-Forwarded-For, Origin); an empty, non-nil slice forwards none.
	// Danger: these carry the user's credentials to ConnectURL, so that URL
	// must be the application's own, over https outside a private network.
	// Because the request carries the browser's cookie and Origin, the hook
	// endpoints must be exempt from the backend's CSRF checks and trust
	// Herald through Headers instead.
	ForwardHeaders []string

	// Headers are static headers sent with every call, e.g. a shared secret
	// ("X-Herald-Secret") by which the backend knows a call is Herald's and
	// not a browser's. They win over a forwarded header of the same name,
	// so a client cannot forge them.
	Headers map[string]string

	// MaxResponseSize is the largest answer read from the backend; a larger
	// one is a failure (ErrUnavailable). Default 64 KiB.
	MaxResponseSize int64

	// HTTPClient makes the calls. Default: a client of its own with
	// Timeout and keep-alive connections to the backend. Whatever is given,
	// redirects are never followed: a redirect is an answer other than 200
	// and fails the call, so that a login page's 302 never leaks the cookie
	// elsewhere or reads as success.
	HTTPClient *http.Client

	// Metrics counts calls by hook and result, and their duration.
	// Default: a private set nobody scrapes.
	Metrics *metrics.Metrics
	// Logger receives one warning per failed call (hook name and reason;
	// never bodies or headers). Default slog.Default().
	Logger *slog.Logger
}

// A Hook names one of the backend's endpoints.
type Hook string

// The hooks, as they appear in metrics, logs and messages.
const (
	ConnectHook   Hook = "connect"
	RefreshHook   Hook = "refresh"
	SubscribeHook Hook = "subscribe"
	PublishHook   Hook = "publish"
	RPCHook       Hook = "rpc"
)

func (c *Config) urls() map[Hook]string {
	return map[Hook]string{
		ConnectHook:   c.ConnectURL,
		RefreshHook:   c.RefreshURL,
		SubscribeHook: c.SubscribeURL,
		PublishHook:   c.PublishURL,
		RPCHook:       c.RPCURL,
	}
}

// parseURL checks one hook URL; key is its configuration key, named in the
// error so that an operator knows which line to fix.
func parseURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// Not repeating raw: it may hold a password, and this cannot redact it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s is not a valid URL: %v", key, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: %q must be an absolute http:// or https:// URL", key, u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: %q has no host", key, u.Redacted())
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%s: %q has a #fragment, which is never sent", key, u.Redacted())
	}
	return u, nil
}

// reserved are headers the client sets itself: copying a user's value of
// one would corrupt the request's framing.
var reserved = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true,
	"Transfer-Encoding": true, "Connection": true, "Upgrade": true,
	"Keep-Alive": true, "Te": true, "Trailer": true,
}

func checkHeaderName(key, name string) error {
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return fmt.Errorf("%s: %q is not a valid header name", key, name)
	}
	if reserved[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf("%s: %s is set by Herald itself", key, http.CanonicalHeaderKey(name))
	}
	return nil
}

// isTokenChar reports whether r may appear in a header name (RFC 9110 token).
func isTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return r < 0x80 && strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}
