package brokertest

import (
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

var _ herald.BrokerHandler = (*Recorder)(nil)

// DefaultTimeout is how long Recorder's waits last when Recorder.Timeout
// is zero. It bounds a failing test, it is not a speed requirement: a
// broker that delivers in time passes however close it comes.
const DefaultTimeout = 10 * time.Second

// Recorder is a BrokerHandler that records everything delivered to it, for
// tests of brokers and of what sits on them. Its methods are safe for
// concurrent use. The zero value is ready.
type Recorder struct {
	// Timeout bounds every Wait; zero means DefaultTimeout.
	Timeout time.Duration

	mu       sync.Mutex
	pubs     map[string][]herald.Publication
	joins    map[string][]herald.ClientInfo
	leaves   map[string][]herald.ClientInfo
	controls [][]byte
	// changed is closed, and replaced, whenever something is recorded.
	changed chan struct{}
}

// HandlePublication records pub.
func (r *Recorder) HandlePublication(channel string, pub herald.Publication) {
	r.record(func() {
		if r.pubs == nil {
			r.pubs = make(map[string][]herald.Publication)
		}
		r.pubs[channel] = append(r.pubs[channel], pub)
	})
}

// HandleJoin records a join.
func (r *Recorder) HandleJoin(channel string, c herald.ClientInfo) {
	r.record(func() {
		if r.joins == nil {
			r.joins = make(map[string][]herald.ClientInfo)
		}
		r.joins[channel] = append(r.joins[channel], c)
	})
}

// HandleLeave records a leave.
func (r *Recorder) HandleLeave(channel string, c herald.ClientInfo) {
	r.record(func() {
		if r.leaves == nil {
			r.leaves = make(map[string][]herald.ClientInfo)
		}
		r.leaves[channel] = append(r.leaves[channel], c)
	})
}

// HandleControl records a control message.
func (r *Recorder) HandleControl(data []byte) {
	r.record(func() { r.controls = append(r.controls, data) })
}

func (r *Recorder) record(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Publications returns what was delivered to the channel so far, in order.
func (r *Recorder) Publications(channel string) []herald.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]herald.Publication(nil), r.pubs[channel]...)
}

// Joins returns the channel's joins so far, in order.
func (r *Recorder) Joins(channel string) []herald.ClientInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]herald.ClientInfo(nil), r.joins[channel]...)
}

// Leaves returns the channel's leaves so far, in order.
func (r *Recorder) Leaves(channel string) []herald.ClientInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]herald.ClientInfo(nil), r.leaves[channel]...)
}

// Controls returns the control messages so far, in order.
func (r *Recorder) Controls() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.controls...)
}

// WaitPublications waits until at least n publications were delivered to
// the channel and returns all of them; it fails the test at the deadline.
func (r *Recorder) WaitPublications(t testing.TB, channel string, n int) []herald.Publication {
	t.Helper()
	if !r.wait(func() bool { return len(r.pubs[channel]) >= n }) {
		t.Fatalf("brokertest: %d of %d publications delivered to %q within %s", len(r.Publications(channel)), n, channel, r.timeout())
	}
	return r.Publications(channel)
}

// WaitJoins waits until at least n joins were delivered to the channel.
func (r *Recorder) WaitJoins(t testing.TB, channel string, n int) []herald.ClientInfo {
	t.Helper()
	if !r.wait(func() bool { return len(r.joins[channel]) >= n }) {
		t.Fatalf("brokertest: %d of %d joins delivered to %q within %s", len(r.Joins(channel)), n, channel, r.timeout())
	}
	return r.Joins(channel)
}

// WaitLeaves waits until at least n leaves were delivered to the channel.
func (r *Recorder) WaitLeaves(t testing.TB, channel string, n int) []herald.ClientInfo {
	t.Helper()
	if !r.wait(func() bool { return len(r.leaves[channel]) >= n }) {
		t.Fatalf("brokertest: %d of %d leaves delivered to %q within %s", len(r.Leaves(channel)), n, channel, r.timeout())
	}
	return r.Leaves(channel)
}

// WaitControls waits until at least n control messages were delivered.
func (r *Recorder) WaitControls(t testing.TB, n int) [][]byte {
	t.Helper()
	if !r.wait(func() bool { return len(r.controls) >= n }) {
		t.Fatalf("brokertest: %d of %d control messages delivered within %s", len(r.Controls()), n, r.timeout())
	}
	return r.Controls()
}

func (r *Recorder) timeout() time.Duration {
	if r.Timeout <= 0 {
		return DefaultTimeout
	}
	return r.Timeout
}

// wait waits until done, called with the recorder locked, reports true,
// and tells whether that happened before the timeout.
func (r *Recorder) wait(done func() bool) bool {
	deadline := time.NewTimer(r.timeout())
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := done()
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}
