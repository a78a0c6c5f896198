package websocket_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/websocket"
)

// benchSubscribers is how many clients every publication of
// BenchmarkEndToEnd reaches. It also bounds the benchmark's concurrency:
// one reader goroutine per client, one publisher.
const benchSubscribers = 100

// BenchmarkEndToEnd measures one publication from hub.Publish until each of
// benchSubscribers WebSocket clients on loopback has read it: fan-out, the
// server's writes, the kernel's loopback and the clients' reads (on
// coder/websocket, another library than the server's). Clients and server
// share the machine's cores.
func BenchmarkEndToEnd(b *testing.B) {
	m := metrics.New()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Config{Logger: quiet, Metrics: m}, memory.New())
	if err := h.Start(); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", websocket.NewHandler(websocket.Options{Logger: quiet, Metrics: m}, h))
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx, 0)
		srv.Close()
		_ = h.Close()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/connection/websocket"

	rc := &receiveCounter{reached: make(chan struct{}, 1)}
	clients := make([]*benchClient, benchSubscribers)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	for i := range clients {
		c, err := dialBench(url, rc)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
	}
	for _, c := range clients {
		select {
		case <-c.subscribed:
		case <-c.done:
			b.Fatalf("a client stopped before subscribing: %v", c.err)
		case <-time.After(10 * time.Second):
			b.Fatal("a client was not subscribed within 10s")
		}
	}

	ctx := context.Background()
	data := []byte(`{"text":"hello","n":42}`)
	var want int64
	for b.Loop() {
		want += benchSubscribers
		rc.want.Store(want)
		if _, err := h.Publish(ctx, "bench", data, hub.PublishRequest{Source: "api"}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-rc.reached:
		case <-time.After(10 * time.Second):
			b.Fatalf("publication %d: %d of %d deliveries after 10s", b.N, rc.received.Load(), want)
		}
	}
	b.ReportMetric(float64(int64(b.N)*benchSubscribers)/b.Elapsed().Seconds(), "deliveries/s")
}

// receiveCounter counts publications read by all clients and wakes the
// benchmark when the count reaches want.
type receiveCounter struct {
	received atomic.Int64
	want     atomic.Int64
	reached  chan struct{}
}

func (rc *receiveCounter) add(n int64) {
	total := rc.received.Add(n)
	if w := rc.want.Load(); total >= w && total-n < w {
		rc.reached <- struct{}{}
	}
}

type benchClient struct {
	conn       *cws.Conn
	rc         *receiveCounter
	subscribed chan struct{}
	done       chan struct{}
	err        error
	closeOnce  sync.Once
}

func dialBench(url string, rc *receiveCounter) (*benchClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := cws.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if err := conn.Write(ctx, cws.MessageText, []byte("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"bench\"}}")); err != nil {
		conn.CloseNow()
		return nil, err
	}
	c := &benchClient{conn: conn, rc: rc, subscribed: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

var (
	pubPrefix      = []byte(`{"channel":`)
	subscribeReply = []byte(`{"id":2,"subscribe":`)
	pingPush       = []byte(`{"ping":{}}`)
)

// readLoop counts the publications in each frame by their prefix rather
// than decoding them: the benchmark measures the server, not encoding/json.
func (c *benchClient) readLoop() {
	defer close(c.done)
	for {
		_, frame, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		var pubs int64
		for line := range bytes.SplitSeq(frame, []byte("\n")) {
			switch {
			case bytes.HasPrefix(line, pubPrefix):
				pubs++
			case bytes.HasPrefix(line, subscribeReply):
				close(c.subscribed)
			case bytes.Equal(line, pingPush):
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = c.conn.Write(ctx, cws.MessageText, []byte(`{"pong":{}}`))
				cancel()
			}
		}
		if pubs > 0 {
			c.rc.add(pubs)
		}
	}
}

func (c *benchClient) close() {
	c.closeOnce.Do(func() {
		_ = c.conn.Close(cws.StatusNormalClosure, "")
		<-c.done
	})
}
