package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/metrics"
)

// Client calls the application's backend. Make one with New; it is safe
// for concurrent use and immutable after New.
type Client struct {
	urls    map[Hook]string // only the hooks that are on
	logURLs map[Hook]string // the same without credentials or query, for logs
	timeout time.Duration
	forward []string // canonical header names
	headers http.Header
	maxResp int64
	hc      *http.Client
	ownHC   bool
	m       *metrics.Metrics
	log     *slog.Logger
}

// New checks the configuration and returns a Client. Errors name the
// configuration key at fault, e.g. hooks.connect_url.
func New(cfg Config) (*Client, error) {
	c := &Client{
		urls:    make(map[Hook]string),
		logURLs: make(map[Hook]string),
		timeout: cfg.Timeout,
		maxResp: cfg.MaxResponseSize,
		headers: make(http.Header),
		m:       cfg.Metrics,
		log:     cfg.Logger,
	}
	for h, raw := range cfg.urls() {
		if raw == "" {
			continue
		}
		u, err := parseURL("hooks."+string(h)+"_url", raw)
		if err != nil {
			return nil, err
		}
		c.urls[h] = u.String()
		c.logURLs[h] = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxResp <= 0 {
		c.maxResp = DefaultMaxResponseSize
	}
	fwd := cfg.ForwardHeaders
	if fwd == nil {
		fwd = DefaultForwardHeaders
	}
	for _, name := range fwd {
		if err := checkHeaderName("hooks.forward_headers", name); err != nil {
			return nil, err
		}
		c.forward = append(c.forward, http.CanonicalHeaderKey(name))
	}
	for name, v := range cfg.Headers {
		if err := checkHeaderName("hooks.headers", name); err != nil {
			return nil, err
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("hooks.headers: the value of %s has a line break or NUL", name)
		}
		c.headers.Set(name, v)
	}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		c.hc = &hc
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Connects come in bursts (a node restarts, every client
		// reconnects): keep more than the default 2 idle connections so a
		// burst does not open and close one TCP connection per call.
		tr.MaxIdleConnsPerHost = 64
		c.hc = &http.Client{Transport: tr, Timeout: c.timeout}
		c.ownHC = true
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.m == nil {
		c.m = metrics.New()
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

// Close releases the idle connections of the Client's own HTTP client (not
// of one given in Config.HTTPClient). Calls made after Close still work.
// A nil Client may be closed.
func (c *Client) Close() error {
	if c != nil && c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

// Enabled reports whether the hook has a URL. A nil Client has none, so
// the hub may hold a nil *Client when no hook is configured.
func (c *Client) Enabled(h Hook) bool {
	if c == nil {
		return false
	}
	_, ok := c.urls[h]
	return ok
}

// ForwardedHeaders picks the headers named in Config.ForwardHeaders from
// a client's handshake request, for ConnectRequest.Headers. Several values
// of one header are joined with ", " (Cookie: "; "). Nil if none is there.
func (c *Client) ForwardedHeaders(h http.Header) map[string]string {
	if c == nil {
		return nil
	}
	var out map[string]string
	for _, name := range c.forward {
		vals := h.Values(name)
		if len(vals) == 0 {
			continue
		}
		sep := ", "
		if name == "Cookie" {
			sep = "; " // RFC 6265: one Cookie line, pairs separated by "; "
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[name] = strings.Join(vals, sep)
	}
	return out
}

// only keeps the forwarded headers of m, under their canonical names, so
// that a caller cannot send the backend more than the operator allowed. A
// value no HTTP request may carry is dropped rather than failing the call.
func (c *Client) only(m map[string]string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if strings.ContainsAny(v, "\r\n\x00") {
			continue
		}
		k = http.CanonicalHeaderKey(k)
		for _, name := range c.forward {
			if k == name {
				if out == nil {
					out = make(map[string]string)
				}
				out[k] = v
			}
		}
	}
	return out
}

// The metric results of a call.
const (
	resultOK       = "ok"
	resultRefused  = "refused"
	resultError    = "error"
	resultTimeout  = "timeout"
	resultCanceled = "canceled"
)

// errHookTimeout is the cause of the call's own deadline, so that it can be
// told apart from the caller's.
var errHookTimeout = errors.New("hook timeout")

// outcome is what one call came to.
type outcome struct {
	result string // metric label
	err    error  // returned to the caller; nil for ok
	reason string // logged, at level; "" logs nothing
	level  slog.Level
}

// call POSTs req to hook h and hands the answer's result to decode. It
// counts, times and logs the call; the error it returns is nil, a
// *herald.Error or a *DisconnectError.
func (c *Client) call(ctx context.Context, h Hook, hdr map[string]string, req any, decode func(json.RawMessage) error) error {
	if !c.Enabled(h) {
		return herald.Errorf(herald.ErrNotAvailable, "%s hook is not configured", h)
	}
	body, err := json.Marshal(req)
	if err != nil {
		// Only data that is not valid JSON gets here; the hub should have
		// refused it already.
		return herald.Errorf(herald.ErrBadRequest, "%s hook: data is not valid JSON", h)
	}
	start := time.Now()
	o := c.exchange(ctx, h, hdr, body, decode)
	elapsed := time.Since(start)
	c.m.HookCalls.WithLabelValues(string(h), o.result).Inc()
	c.m.HookLatency.WithLabelValues(string(h)).Observe(elapsed.Seconds())
	if o.reason != "" {
		msg := "hook call failed"
		if o.result == resultRefused {
			msg = "hook refused"
		}
		c.log.Log(ctx, o.level, msg, "hook", string(h), "url", c.logURLs[h],
			"result", o.result, "reason", o.reason, "elapsed", elapsed.Round(time.Millisecond))
	}
	return o.err
}

func (c *Client) exchange(ctx context.Context, h Hook, hdr map[string]string, body []byte, decode func(json.RawMessage) error) outcome {
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errHookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.urls[h], bytes.NewReader(body))
	if err != nil { // the URL was checked by New
		return failed(resultError, "%s hook: %v", h, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "Herald")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportFailure(parent, ctx, h, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Read a little of an error page, so that its connection can be
		// reused, but not a whole one.
		io.CopyN(io.Discard, resp.Body, 4<<10)
		o := failed(resultError, "%s hook answered HTTP %d", h, resp.StatusCode)
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			o.reason += " (a redirect, which is not followed: point the URL at the final address)"
		}
		return o
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResp+1))
	if err != nil {
		return c.transportFailure(parent, ctx, h, err)
	}
	if int64(len(data)) > c.maxResp {
		return failed(resultError, "%s hook answered more than %d bytes", h, c.maxResp)
	}
	return c.answer(h, data, decode)
}

// failed is a backend failure: the client gets ErrUnavailable with the
// reason, and the log gets it once.
func failed(result, format string, args ...any) outcome {
	e := herald.Errorf(herald.ErrUnavailable, format, args...)
	return outcome{result: result, err: e, reason: e.Message, level: slog.LevelWarn}
}

// transportFailure names why no answer came: the hook's own timeout, the
// caller's deadline or cancellation, or the network.
func (c *Client) transportFailure(parent, ctx context.Context, h Hook, err error) outcome {
	if context.Cause(ctx) == errHookTimeout {
		return failed(resultTimeout, "%s hook timed out after %s", h, c.timeout)
	}
	if perr := parent.Err(); perr != nil {
		if errors.Is(perr, context.DeadlineExceeded) {
			return failed(resultTimeout, "%s hook timed out (the caller's deadline passed)", h)
		}
		// The caller gave up, usually because the client went away: not
		// the backend's fault, so no warning. The error still matches
		// context.Canceled for a caller that wants to know.
		e := herald.Errorf(herald.ErrUnavailable, "%s hook canceled", h)
		return outcome{result: resultCanceled, err: &canceledError{e, perr}, reason: e.Message, level: slog.LevelDebug}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return failed(resultTimeout, "%s hook timed out", h)
	}
	// url.Error repeats the URL, which may hold a secret in its query.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	o := failed(resultError, "%s hook is unreachable", h)
	o.reason += ": " + err.Error()
	return o
}

// canceledError is the *herald.Error of a canceled call that also matches
// the context's error with errors.Is.
type canceledError struct {
	herr  *herald.Error
	cause error
}

func (e *canceledError) Error() string   { return e.herr.Error() }
func (e *canceledError) Unwrap() []error { return []error{e.herr, e.cause} }
