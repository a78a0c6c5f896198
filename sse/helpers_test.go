package sse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/sse"
)

// node is the real stack of one server (memory broker unless given one,
// hub, fallback transports) on a loopback port.
type node struct {
	*httptest.Server
	hub       *hub.Hub
	m         *metrics.Metrics
	emulation http.Handler // the POST endpoint, to call without a socket
}

func startNode(t testing.TB, b herald.Broker, opts sse.Options) *node {
	t.Helper()
	if b == nil {
		b = memory.New()
	}
	m := metrics.New()
	opts.Metrics = m
	h := hub.New(hub.Config{Namespaces: herald.Namespaces{Default: herald.NamespaceOptions{AllowPublish: true}}, Metrics: m}, b)
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	fb := sse.NewHandler(opts, h, h)
	mux := http.NewServeMux()
	mux.Handle("/connection/sse", fb.SSE())
	mux.Handle("/connection/http_stream", fb.HTTPStream())
	mux.Handle("/connection/emulation", fb.Emulation())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx, 0)
		srv.Close()
		h.Close()
	})
	return &node{Server: srv, hub: h, m: m, emulation: fb.Emulation()}
}

// stream is a raw stream read line by line: the test sees the wire.
type stream struct {
	t              *testing.T
	session, token string
	msgs           chan map[string]any
	cancel         context.CancelFunc
	done           chan struct{}
}

// openStream opens transport's stream on base with connect riding in the
// query, and reads its preamble.
func openStream(t *testing.T, base, transport, connect string) *stream {
	t.Helper()
	u := base + "/connection/" + transport
	if connect != "" {
		u += "?connect=" + url.QueryEscape(connect)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET %s: %s", u, res.Status)
	}
	s := &stream{t: t, msgs: make(chan map[string]any, 100), cancel: cancel, done: make(chan struct{})}
	preamble := make(chan map[string]any, 1)
	go func() {
		pre := preamble
		defer close(s.done)
		defer res.Body.Close()
		defer close(s.msgs)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if transport == sse.SSE {
				switch {
				case strings.HasPrefix(line, "event: "):
					event = strings.TrimPrefix(line, "event: ")
					continue
				case line == "":
					event = ""
					continue
				case !strings.HasPrefix(line, "data: "):
					t.Errorf("unexpected SSE line %q", line)
					continue
				}
				line = strings.TrimPrefix(line, "data: ")
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("stream line %q: %v", line, err)
				continue
			}
			if pre != nil && (transport != sse.SSE || event == "session") {
				pre <- m
				pre = nil
				continue
			}
			s.msgs <- m
		}
	}()
	select {
	case m := <-preamble:
		s.session, _ = m["session"].(string)
		s.token, _ = m["token"].(string)
	case <-time.After(30 * time.Second):
		t.Fatal("no session preamble")
	}
	t.Cleanup(s.close)
	return s
}

func (s *stream) close() { s.cancel(); <-s.done }

// next returns the next message, or fails after a generous deadline.
func (s *stream) next() map[string]any {
	s.t.Helper()
	select {
	case m, ok := <-s.msgs:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return m
	case <-time.After(30 * time.Second):
		s.t.Fatal("no message on the stream")
	}
	return nil
}

// until returns the first message for which ok holds.
func (s *stream) until(ok func(map[string]any) bool) map[string]any {
	s.t.Helper()
	for {
		if m := s.next(); ok(m) {
			return m
		}
	}
}

func hasID(id float64) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["id"] == id }
}

// post sends body to base's emulation endpoint as the stream's session.
func post(t *testing.T, base, session, token, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/connection/emulation", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if session != "" {
		req.Header.Set(sse.HeaderSession, session)
	}
	if token != "" {
		req.Header.Set(sse.HeaderToken, token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func errCode(out map[string]any) float64 {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}
