package websocket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/websocket"
)

const testKey = "test-api-key"

// testServer is the real stack (memory broker, hub, WebSocket transport,
// server API) on a loopback port.
type testServer struct {
	*httptest.Server
	hub *hub.Hub
	m   *metrics.Metrics
}

func startServer(t *testing.T, cfg hub.Config, opts websocket.Options) *testServer {
	t.Helper()
	if cfg.Namespaces.Named == nil {
		cfg.Namespaces = herald.Namespaces{
			Default: herald.NamespaceOptions{AllowPublish: true},
			Named: map[string]herald.NamespaceOptions{
				"history":  {HistorySize: 10, HistoryTTL: time.Minute},
				"readonly": {},
			},
		}
	}
	m := metrics.New()
	cfg.Metrics, opts.Metrics = m, m
	h := hub.New(cfg, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", websocket.NewHandler(opts, h))
	mux.Handle("/api/", api.NewHandler(api.Options{Key: testKey, Metrics: m}, h))
	srv := httptest.NewServer(mux)
	ts := &testServer{Server: srv, hub: h, m: m}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx, 0)
		srv.Close()
		h.Close()
	})
	return ts
}

func (ts *testServer) wsURL() string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + "/connection/websocket"
}

func (ts *testServer) publish(t *testing.T, channel, data string) map[string]any {
	t.Helper()
	body := `{"channel":"` + channel + `","data":` + data + `}`
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/publish", strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("publish %s: HTTP %d: %s", channel, res.StatusCode, b)
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// client is a test client on coder/websocket, a different WebSocket
// library from the server's, so that every test is an interop test too.
type client struct {
	t    *testing.T
	conn *cws.Conn
	in   chan map[string]any // messages read, one per JSON line
	done chan struct{}
	err  error // why reading stopped, once done is closed
	id   uint32
	pong bool // answer the server's pings from the read loop
}

func dial(t *testing.T, ts *testServer, opts *cws.DialOptions) *client {
	t.Helper()
	return dialClient(t, ts, opts, false)
}

// dialClient dials; with pong the client answers the server's pings from
// its read loop, so that it outlives a short ping interval whatever the
// test is doing.
func dialClient(t *testing.T, ts *testServer, opts *cws.DialOptions, pong bool) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := cws.Dial(ctx, ts.wsURL(), opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(16 << 20)
	c := &client{t: t, conn: conn, in: make(chan map[string]any, 4096), done: make(chan struct{}), pong: pong}
	go c.readLoop()
	t.Cleanup(func() {
		conn.Close(cws.StatusNormalClosure, "")
		<-c.done
	})
	return c
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				c.err = errors.New("server sent invalid JSON: " + string(line))
				return
			}
			if _, ok := m["ping"]; ok && m["id"] == nil && c.pong {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := c.conn.Write(ctx, cws.MessageText, []byte(`{"pong":{}}`))
				cancel()
				if err != nil {
					c.err = err
					return
				}
				continue
			}
			select {
			case c.in <- m:
			default:
				c.err = errors.New("test client buffer full")
				return
			}
		}
	}
}

func (c *client) send(frame string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, cws.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next message that is not a ping push.
func (c *client) next() map[string]any {
	c.t.Helper()
	for {
		select {
		case m := <-c.in:
			if _, ok := m["ping"]; ok && m["id"] == nil {
				continue
			}
			return m
		case <-c.done:
			select {
			case m := <-c.in:
				return m
			default:
			}
			c.t.Fatalf("connection ended while waiting for a message: %v", c.err)
		case <-time.After(5 * time.Second):
			c.t.Fatal("timed out waiting for a message")
		}
	}
}

// call sends one command and returns its reply.
func (c *client) call(command string, body string) map[string]any {
	c.t.Helper()
	c.id++
	c.send(`{"id":` + itoa(c.id) + `,"` + command + `":` + body + `}`)
	r := c.next()
	if id, _ := r["id"].(float64); uint32(id) != c.id {
		c.t.Fatalf("%s: got %v, want the reply to id %d", command, r, c.id)
	}
	return r
}

func (c *client) connect() {
	c.t.Helper()
	r := c.call("connect", `{"name":"test"}`)
	if r["connect"] == nil {
		c.t.Fatalf("connect: %v", r)
	}
}

func (c *client) subscribe(channel string) {
	c.t.Helper()
	r := c.call("subscribe", `{"channel":"`+channel+`"}`)
	if r["subscribe"] == nil {
		c.t.Fatalf("subscribe %s: %v", channel, r)
	}
}

// closeStatus waits for the connection to end and returns its close code.
func (c *client) closeStatus() cws.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Fatal("connection did not close")
	}
	return cws.CloseStatus(c.err)
}

func errorCode(r map[string]any) herald.ErrorCode {
	e, _ := r["error"].(map[string]any)
	code, _ := e["code"].(float64)
	return herald.ErrorCode(code)
}

func itoa(n uint32) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// gaugeValue reads one unlabelled metric from the server's registry.
func gaugeValue(ts *testServer, name string) float64 {
	rec := httptest.NewRecorder()
	ts.m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_ = json.Unmarshal([]byte(v), &f)
			return f
		}
	}
	return -1
}
