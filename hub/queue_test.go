package hub

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/memory"
)

// gatedTransport blocks each Write until the test lets it through, so the
// test controls what is queued while a write is in flight.
type gatedTransport struct {
	gate    chan struct{}
	entered atomic.Int32 // Write calls begun
	mu      sync.Mutex
	writes  [][]string
	closed  *herald.Disconnect
}

func (g *gatedTransport) Name() string { return "gated" }

func (g *gatedTransport) Write(msgs [][]byte) error {
	g.entered.Add(1)
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	var w []string
	for _, m := range msgs {
		w = append(w, string(m))
	}
	g.writes = append(g.writes, w)
	return nil
}

func (g *gatedTransport) Close(d herald.Disconnect) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = &d
	return nil
}

func (g *gatedTransport) snapshot() ([][]string, *herald.Disconnect) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]string(nil), g.writes...), g.closed
}

func newTestHub(t *testing.T, cfg Config) *Hub {
	t.Helper()
	h := New(cfg, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Everything queued while a write is in flight goes out in the next single
// write.
func TestQueueCoalesces(t *testing.T) {
	h := newTestHub(t, Config{})
	g := &gatedTransport{gate: make(chan struct{})}
	sess, _ := h.Accept(g, herald.ConnInfo{})
	s := sess.(*Session)

	s.q.push([]byte("1"))
	eventually(t, "the first write to start", func() bool { return g.entered.Load() == 1 })
	for _, m := range []string{"2", "3", "4"} {
		s.q.push([]byte(m))
	}
	close(g.gate)
	eventually(t, "two writes", func() bool { w, _ := g.snapshot(); return len(w) == 2 })
	w, _ := g.snapshot()
	if strings.Join(w[0], ",") != "1" || strings.Join(w[1], ",") != "2,3,4" {
		t.Fatalf("writes %v, want [1] [2 3 4]", w)
	}
	s.Disconnect(herald.DisconnectForceReconnect)
}

func TestQueueOverflowDisconnectsSlow(t *testing.T) {
	h := newTestHub(t, Config{QueueSize: 10})
	g := &gatedTransport{gate: make(chan struct{})}
	sess, _ := h.Accept(g, herald.ConnInfo{})
	s := sess.(*Session)
	s.q.push([]byte("12345")) // taken by the writer, which blocks
	eventually(t, "the write to start", func() bool { return g.entered.Load() == 1 })
	s.q.push([]byte("12345"))
	s.q.push([]byte("123456")) // 11 bytes queued > 10
	eventually(t, "the slow disconnect", func() bool { _, d := g.snapshot(); return d != nil })
	close(g.gate)
	_, d := g.snapshot()
	if *d != herald.DisconnectSlow {
		t.Fatalf("closed with %v, want slow", d)
	}
	if h.Info().NumClients != 0 {
		t.Fatal("the slow session is still registered")
	}
}

// acceptOpen accepts n sessions whose transports take every write.
func acceptOpen(t *testing.T, h *Hub, n int) []*gatedTransport {
	t.Helper()
	var ts []*gatedTransport
	for range n {
		g := &gatedTransport{gate: make(chan struct{})}
		close(g.gate)
		if _, err := h.Accept(g, herald.ConnInfo{}); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, g)
	}
	return ts
}

func TestShutdownTellsEverySessionToReconnect(t *testing.T) {
	h := newTestHub(t, Config{})
	ts := acceptOpen(t, h, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for i, g := range ts {
		w, d := g.snapshot()
		if d == nil || *d != herald.DisconnectShutdown {
			t.Fatalf("transport %d closed with %v", i, d)
		}
		if len(w) != 1 || !strings.Contains(w[0][0], `"code":4000`) {
			t.Fatalf("transport %d got %v, want the disconnect push", i, w)
		}
	}
	if _, err := h.Accept(&gatedTransport{}, herald.ConnInfo{}); err == nil {
		t.Fatal("a draining hub accepted a connection")
	}
}
