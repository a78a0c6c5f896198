package hub

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/heraldrt/herald"
)

// recordingTransport keeps what it is asked to write and which goroutine
// asked, so a test can tell how many goroutines did the writing.
type recordingTransport struct {
	mu         sync.Mutex
	msgs       []string
	goroutines map[uint64]bool
}

func (r *recordingTransport) Name() string { return "recording" }

func (r *recordingTransport) Write(msgs [][]byte) error {
	g := goroutineID()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.msgs = append(r.msgs, string(m))
	}
	if r.goroutines == nil {
		r.goroutines = make(map[uint64]bool)
	}
	r.goroutines[g] = true
	return nil
}

func (r *recordingTransport) Close(herald.Disconnect) error { return nil }

func (r *recordingTransport) written() ([]string, map[uint64]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...), r.goroutines
}

// goroutineID reads the calling goroutine's number from its stack header
// ("goroutine 42 [running]:").
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	n, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return n
}

// Deliveries to many connections are written by the pool's writers, not by
// a goroutine per delivery, and each connection gets its messages in order.
func TestWritersAreAFixedPool(t *testing.T) {
	const conns, perConn, writers = 300, 20, 3
	h := newTestHub(t, Config{Writers: writers})
	ts := make([]*recordingTransport, conns)
	ss := make([]*Session, conns)
	for i := range ts {
		ts[i] = &recordingTransport{}
		sess, err := h.Accept(ts[i], herald.ConnInfo{})
		if err != nil {
			t.Fatal(err)
		}
		ss[i] = sess.(*Session)
	}
	for n := range perConn {
		for _, s := range ss {
			s.q.push([]byte(strconv.Itoa(n)))
		}
	}
	all := make(map[uint64]bool)
	for i, tr := range ts {
		eventually(t, fmt.Sprintf("connection %d's messages", i), func() bool { m, _ := tr.written(); return len(m) == perConn })
		m, g := tr.written()
		for n, got := range m {
			if got != strconv.Itoa(n) {
				t.Fatalf("connection %d got %v, want 0..%d in order", i, m, perConn-1)
			}
		}
		for id := range g {
			all[id] = true
		}
	}
	// A writer descheduled for long on a loaded machine looks blocked and
	// is replaced: each replacement may add one goroutine.
	if max := writers + int(h.writers.handoffs.Load()); len(all) > max {
		t.Fatalf("%d goroutines wrote %d deliveries; want at most %d (the pool and its replacements)", len(all), conns*perConn, max)
	}
	for _, s := range ss {
		s.Disconnect(herald.DisconnectForceReconnect)
	}
}

// A write that blocks does not hold up the other connections: its writer
// is handed over to it and another takes its place, even in a pool of one.
func TestBlockedWriteIsHandedOver(t *testing.T) {
	h := newTestHub(t, Config{Writers: 1})
	stuck := &gatedTransport{gate: make(chan struct{})}
	sess, _ := h.Accept(stuck, herald.ConnInfo{})
	slow := sess.(*Session)
	slow.q.push([]byte("a"))
	eventually(t, "the stuck write to start", func() bool { return stuck.entered.Load() == 1 })

	fast := &recordingTransport{}
	sess, _ = h.Accept(fast, herald.ConnInfo{})
	quick := sess.(*Session)
	quick.q.push([]byte("b"))
	eventually(t, "the other connection's write", func() bool { m, _ := fast.written(); return len(m) == 1 })
	if h.writers.handoffs.Load() == 0 {
		t.Fatal("the other connection was written with no handoff, by the only writer, which is stuck")
	}

	// The stuck connection keeps its order once its write returns.
	slow.q.push([]byte("c"))
	close(stuck.gate)
	eventually(t, "the stuck connection's writes", func() bool { w, _ := stuck.snapshot(); return len(w) == 2 })
	if w, _ := stuck.snapshot(); w[0][0] != "a" || w[1][0] != "c" {
		t.Fatalf("stuck connection got %v, want [a] [c]", w)
	}
	slow.Disconnect(herald.DisconnectForceReconnect)
	quick.Disconnect(herald.DisconnectForceReconnect)
}

// With no write in progress the watchdog sleeps (an idle server does not
// wake 100 times a second), and a write that blocks after that still
// wakes it and is handed over.
func TestWatchdogSleepsWhenIdle(t *testing.T) {
	h := newTestHub(t, Config{Writers: 1})
	eventually(t, "the watchdog to sleep", func() bool { return h.writers.asleep.Load() && !h.writers.writing() })

	stuck := &gatedTransport{gate: make(chan struct{})}
	sess, _ := h.Accept(stuck, herald.ConnInfo{})
	slow := sess.(*Session)
	slow.q.push([]byte("a"))
	eventually(t, "the stuck write to be handed over", func() bool { return h.writers.handoffs.Load() == 1 })
	close(stuck.gate)
	eventually(t, "the watchdog to sleep again", func() bool { return h.writers.asleep.Load() && !h.writers.writing() })
	slow.Disconnect(herald.DisconnectForceReconnect)
}

// The queue depth histogram sees one write in queueDepthSample of each
// writer.
func TestQueueDepthSampled(t *testing.T) {
	h := newTestHub(t, Config{Writers: 1})
	tr := &recordingTransport{}
	sess, _ := h.Accept(tr, herald.ConnInfo{})
	s := sess.(*Session)
	const writes = 3 * queueDepthSample
	for i := range writes {
		s.q.push([]byte(strconv.Itoa(i)))
		eventually(t, "the write", func() bool { m, _ := tr.written(); return len(m) == i+1 })
	}
	var d dto.Metric
	if err := h.m.QueueDepth.Write(&d); err != nil {
		t.Fatal(err)
	}
	if n := d.GetHistogram().GetSampleCount(); n != writes/queueDepthSample {
		t.Fatalf("%d observations of %d writes, want %d", n, writes, writes/queueDepthSample)
	}
	s.Disconnect(herald.DisconnectForceReconnect)
}
