package websocket_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/websocket"
)

// tokenSecret signs the tests' tokens, as the application backend would.
// Close reasons and error messages must never repeat it.
const tokenSecret = "herald-test-hmac-secret-0123456789abcdef"

// hookSecret is the shared secret by which the test backend knows a hook
// call is Herald's.
const hookSecret = "hook-shared-secret-5f3a"

// newVerifier is a verifier of tokenSecret's tokens; cfg may add audience,
// issuer and the like.
func newVerifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	cfg.HMACSecret = tokenSecret
	v, err := auth.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mint makes a token signed with tokenSecret.
func mint(t *testing.T, c auth.MintClaims) string {
	t.Helper()
	if c.TTL == 0 {
		c.TTL = time.Hour
	}
	tok, err := auth.Mint(tokenSecret, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signHS256 makes a token from raw header and claims, for the tokens Mint
// refuses to make (nbf in the future, another secret, alg none).
func signHS256(secret string, header, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// startAuthServer is startServer with an Authenticator made of o, closed
// after the hub. It also forwards rpc calls and handshake headers when o
// has hooks for them, as cmd/herald does.
func startAuthServer(t *testing.T, cfg hub.Config, o authn.Options, opts websocket.Options) (*testServer, *authn.Authenticator) {
	t.Helper()
	a := authn.New(o)
	t.Cleanup(a.Close) // registered first, so it runs after the hub's cleanup
	cfg.Auth = a
	if a.Has(hooks.RPCHook) {
		cfg.RPCForward = a.RPC
	}
	if a.Has(hooks.ConnectHook) && opts.Headers == nil {
		opts.Headers = a.ForwardedHeaders
	}
	return startServer(t, cfg, opts), a
}

// connectWith sends a connect command with the token and returns the reply.
func (c *client) connectWith(token string) map[string]any {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	return c.call("connect", string(body))
}

// connectAs connects with a valid token for user and returns the connect
// result.
func (c *client) connectAs(user string) map[string]any {
	c.t.Helper()
	r := c.connectWith(mint(c.t, auth.MintClaims{User: user}))
	res, _ := r["connect"].(map[string]any)
	if res == nil {
		c.t.Fatalf("connect as %s: %v", user, r)
	}
	return res
}

// closedWith waits for the connection to end and fails unless the server
// closed it with code; it returns the close reason.
func (c *client) closedWith(code cws.StatusCode) string {
	c.t.Helper()
	if got := c.closeStatus(); got != code {
		c.t.Fatalf("connection ended with %d (%v), want close code %d", got, c.err, code)
	}
	var ce cws.CloseError
	errors.As(c.err, &ce)
	return ce.Reason
}

// alive fails unless the connection still answers a ping.
func (c *client) alive() {
	c.t.Helper()
	if r := c.call("ping", `{}`); r["pong"] == nil {
		c.t.Fatalf("ping: %v", r)
	}
}

// hookBackend is the application's backend as a real HTTP server. It
// authenticates connections by its session cookie, as a web app does:
//
//	sid=good  → user 42, info {"name":"Ann"}, channels ["personal:#42"]
//	sid=bad   → error 101 (a refusal the client sees as an error reply)
//	no cookie → disconnect 4502
//
// Every hook call must carry hookSecret; the backend counts them by path.
type hookBackend struct {
	*httptest.Server
	mu    sync.Mutex
	calls map[string]int
	last  map[string]map[string]any // the last body per path
	// unsecret counts calls without the shared secret (none expected).
	unsecret atomic.Int32
}

func newHookBackend(t *testing.T) *hookBackend {
	t.Helper()
	b := &hookBackend{calls: map[string]int{}, last: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect", b.connect)
	mux.HandleFunc("POST /subscribe", func(w http.ResponseWriter, r *http.Request) {
		req := b.body(r)
		if req["user"] != "42" {
			hookAnswer(w, map[string]any{"error": map[string]any{"code": 103, "message": "only Ann may watch this"}})
			return
		}
		hookAnswer(w, map[string]any{"result": map[string]any{"info": map[string]any{"role": "watcher"}}})
	})
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		req := b.body(r)
		if req["user"] == "" {
			hookAnswer(w, map[string]any{"error": map[string]any{"code": 103, "message": "log in to post"}})
			return
		}
		// Rewrites the data: the backend stamps who said it.
		hookAnswer(w, map[string]any{"result": map[string]any{"data": map[string]any{"by": req["user"], "said": req["data"]}}})
	})
	mux.HandleFunc("POST /rpc", func(w http.ResponseWriter, r *http.Request) {
		req := b.body(r)
		hookAnswer(w, map[string]any{"result": map[string]any{"data": map[string]any{"method": req["method"], "user": req["user"], "echo": req["data"]}}})
	})
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		b.body(r)
		select {
		case <-r.Context().Done(): // Herald hangs up when it gives up
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("POST /garbage", func(w http.ResponseWriter, r *http.Request) {
		b.body(r)
		w.Write([]byte("<html>Oops</html>"))
	})
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Herald-Secret") != hookSecret {
			b.unsecret.Add(1)
			http.Error(w, "not Herald", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(b.Close)
	return b
}

// body reads and counts a hook call.
func (b *hookBackend) body(r *http.Request) map[string]any {
	var m map[string]any
	_ = json.NewDecoder(r.Body).Decode(&m)
	b.mu.Lock()
	b.calls[r.URL.Path]++
	b.last[r.URL.Path] = m
	b.mu.Unlock()
	return m
}

func (b *hookBackend) count(path string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[path]
}

func (b *hookBackend) lastBody(path string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last[path]
}

func (b *hookBackend) connect(w http.ResponseWriter, r *http.Request) {
	b.body(r)
	sid, err := r.Cookie("sid")
	switch {
	case err != nil:
		hookAnswer(w, map[string]any{"disconnect": map[string]any{"code": 4502, "reason": "no session"}})
	case sid.Value == "good":
		hookAnswer(w, map[string]any{"result": map[string]any{"user": "42", "info": map[string]any{"name": "Ann"}, "channels": []string{"personal:#42"}}})
	default:
		hookAnswer(w, map[string]any{"error": map[string]any{"code": 101, "message": "session expired, log in again"}})
	}
}

func hookAnswer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// hooksClient calls the backend's paths: each URL is the backend's base
// plus the path given, "" for a hook that is off.
func hooksClient(t *testing.T, b *hookBackend, cfg hooks.Config) *hooks.Client {
	t.Helper()
	for _, u := range []*string{&cfg.ConnectURL, &cfg.RefreshURL, &cfg.SubscribeURL, &cfg.PublishURL, &cfg.RPCURL} {
		if *u != "" {
			*u = b.URL + *u
		}
	}
	cfg.Headers = map[string]string{"X-Herald-Secret": hookSecret}
	if cfg.Timeout == 0 {
		cfg.Timeout = 300 * time.Millisecond
	}
	c, err := hooks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dialCookie dials with a browser's headers: a session cookie and, if not
// empty, an Origin.
func dialCookie(t *testing.T, ts *testServer, cookie, origin string) *client {
	t.Helper()
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return dial(t, ts, &cws.DialOptions{HTTPHeader: h})
}

// dialRefused dials expecting the handshake to be refused, and returns the
// HTTP status.
func dialRefused(t *testing.T, ts *testServer, h http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := cws.Dial(ctx, ts.wsURL(), &cws.DialOptions{HTTPHeader: h})
	if err == nil {
		conn.Close(cws.StatusNormalClosure, "")
		t.Fatal("the handshake was accepted")
	}
	if res == nil {
		t.Fatalf("no HTTP answer: %v", err)
	}
	return res.StatusCode
}

// leaks reports whether text repeats a secret or a large part of a token.
func leaks(text string, secrets ...string) bool {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if len(s) > 40 {
			s = s[len(s)-40:] // a token's signature end
		}
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}
