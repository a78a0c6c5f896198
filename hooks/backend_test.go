package hooks_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/metrics"
)

const secret = "s3cret"

// backend is a real application backend over HTTP that authenticates
// connections by its session cookie, the way a web app would:
//
//	sid=good  → user 42, info {"name":"Ann"}, channels ["personal:42"]
//	sid=bad   → error 101 unauthorized
//	sid=app   → error 1001, the application's own code
//	sid=weird → error 42, a code the backend has no right to
//	no cookie → disconnect 4502 invalid_token
//
// Calls without the shared secret get 401. Other paths misbehave on
// purpose.
type backend struct {
	*httptest.Server
	started chan struct{} // a /slow request arrived

	mu     sync.Mutex
	header http.Header // of the last request
	body   []byte
}

func newBackend(t *testing.T) *backend {
	b := &backend{started: make(chan struct{}, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect", b.connect)
	mux.HandleFunc("POST /refresh", b.refresh)
	mux.HandleFunc("POST /subscribe", b.subscribe)
	mux.HandleFunc("POST /publish", b.publish)
	mux.HandleFunc("POST /rpc", b.rpc)
	mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		b.started <- struct{}{}
		<-r.Context().Done() // Herald hangs up when it gives up
	})
	mux.HandleFunc("POST /status/500", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("POST /garbage", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>Oops</html>"))
	})
	mux.HandleFunc("POST /big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"result":{"info":"` + strings.Repeat("x", 100<<10) + `"}}`))
	})
	mux.HandleFunc("POST /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/connect", http.StatusFound)
	})
	mux.HandleFunc("POST /answer", func(w http.ResponseWriter, r *http.Request) {
		// Echoes the answer given in the X-Answer header or else the
		// request's data, for the cases of odd codes and shapes.
		if a := r.Header.Get("X-Answer"); a != "" {
			w.Write([]byte(a))
			return
		}
		var req struct{ Data json.RawMessage }
		json.NewDecoder(r.Body).Decode(&req)
		w.Write(req.Data)
	})
	b.Server = httptest.NewServer(b.authenticated(mux))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := new(bytes.Buffer)
		body.ReadFrom(r.Body)
		b.mu.Lock()
		b.header, b.body = r.Header.Clone(), body.Bytes()
		b.mu.Unlock()
		if r.Header.Get("X-Herald-Secret") != secret {
			http.Error(w, "not Herald", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(body)
		next.ServeHTTP(w, r)
	})
}

func (b *backend) last() (http.Header, map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var m map[string]any
	json.Unmarshal(b.body, &m)
	return b.header, m
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

type M = map[string]any

func (b *backend) connect(w http.ResponseWriter, r *http.Request) {
	var req hooks.ConnectRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// The session middleware reads the real Cookie header; the body's copy
	// must say the same.
	sid, err := r.Cookie("sid")
	if err == nil && req.Headers["Cookie"] != r.Header.Get("Cookie") {
		http.Error(w, "body and header cookies differ", http.StatusBadRequest)
		return
	}
	switch {
	case err != nil:
		answer(w, M{"disconnect": M{"code": 4502, "reason": "no session"}})
	case sid.Value == "good":
		answer(w, M{"result": M{"user": "42", "info": M{"name": "Ann"}, "channels": []string{"personal:42"}, "expire_at": 1767225600}})
	case sid.Value == "bad":
		answer(w, M{"error": M{"code": 101, "message": "session expired, log in again"}})
	case sid.Value == "app":
		answer(w, M{"error": M{"code": 1001, "message": "account suspended"}})
	case sid.Value == "weird":
		answer(w, M{"error": M{"code": 42, "message": "no way"}})
	default:
		answer(w, M{"error": M{"code": 103}})
	}
}

func (b *backend) refresh(w http.ResponseWriter, r *http.Request) {
	var req hooks.RefreshRequest
	json.NewDecoder(r.Body).Decode(&req)
	if req.User != "42" {
		answer(w, M{"disconnect": M{"code": 4005}})
		return
	}
	answer(w, M{"result": M{"expire_at": 1767229200, "info": M{"name": "Ann B."}}})
}

func (b *backend) subscribe(w http.ResponseWriter, r *http.Request) {
	var req hooks.SubscribeRequest
	json.NewDecoder(r.Body).Decode(&req)
	if req.Channel != "personal:"+req.User {
		answer(w, M{"error": M{"code": 103, "message": "not your channel"}})
		return
	}
	answer(w, M{"result": M{"info": M{"role": "owner"}}})
}

func (b *backend) publish(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User, Channel string
		Data          struct{ Text string }
	}
	json.NewDecoder(r.Body).Decode(&req)
	switch {
	case strings.Contains(req.Data.Text, "spam"):
		answer(w, M{"error": M{"code": 1002, "message": "looks like spam"}})
	case req.Channel == "chat:moderated":
		answer(w, M{"result": M{"data": M{"text": strings.ToUpper(req.Data.Text), "by": req.User}}})
	default:
		answer(w, M{"result": M{}})
	}
}

func (b *backend) rpc(w http.ResponseWriter, r *http.Request) {
	var req hooks.RPCRequest
	json.NewDecoder(r.Body).Decode(&req)
	if req.Method != "echo" {
		answer(w, M{"error": M{"code": 116, "message": "no method " + req.Method}})
		return
	}
	// Pretty-printed on purpose: Herald must compact it.
	w.Write([]byte("{\"result\": {\"data\": {\n  \"user\": \"" + req.User + "\",\n  \"got\": " + string(req.Data) + "\n}}}"))
}

// env is a client of the backend with every hook on, its metrics and log.
type env struct {
	b   *backend
	c   *hooks.Client
	m   *metrics.Metrics
	log *syncBuffer
}

// edit, if not nil, changes the configuration; url is the backend's.
func newEnv(t *testing.T, edit func(c *hooks.Config, url string)) *env {
	t.Helper()
	e := &env{b: newBackend(t), m: metrics.New(), log: new(syncBuffer)}
	cfg := hooks.Config{
		ConnectURL:   e.b.URL + "/connect",
		RefreshURL:   e.b.URL + "/refresh",
		SubscribeURL: e.b.URL + "/subscribe",
		PublishURL:   e.b.URL + "/publish",
		RPCURL:       e.b.URL + "/rpc",
		Headers:      map[string]string{"X-Herald-Secret": secret},
		Metrics:      e.m,
		Logger:       newLogger(e.log),
	}
	if edit != nil {
		edit(&cfg, e.b.URL)
	}
	c, err := hooks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	t.Cleanup(func() { c.Close() })
	return e
}

// calls is how many calls of the hook ended with the result.
func (e *env) calls(hook hooks.Hook, result string) int {
	var d dto.Metric
	if err := e.m.HookCalls.WithLabelValues(string(hook), result).Write(&d); err != nil {
		panic(err)
	}
	return int(d.GetCounter().GetValue())
}

// timed is how many calls of the hook the latency histogram saw.
func (e *env) timed(hook hooks.Hook) int {
	var d dto.Metric
	if err := e.m.HookLatency.WithLabelValues(string(hook)).(prometheus.Metric).Write(&d); err != nil {
		panic(err)
	}
	return int(d.GetHistogram().GetSampleCount())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// warnings are the log's WARN lines.
func (s *syncBuffer) warnings() []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		if strings.Contains(l, "level=WARN") {
			out = append(out, l)
		}
	}
	return out
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
