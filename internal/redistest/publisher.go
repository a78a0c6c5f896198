package redistest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

// Publisher publishes the JSON numbers 1, 2, ... without pause until
// Finish, for tests that stop Redis under load. It keeps what was
// acknowledged, in order, and counts what failed, waiting a little after
// each failure as a backend backs off.
type Publisher struct {
	mu     sync.Mutex
	acked  []herald.Publication
	failed int
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// StartPublisher starts publishing through publish, which returns the
// position of the publication it was given; Finish (or the end of the
// test) stops it.
func StartPublisher(t testing.TB, publish func(data []byte) (herald.StreamPosition, error)) *Publisher {
	p := &Publisher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 1; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			data := fmt.Appendf(nil, "%d", i)
			pos, err := publish(data)
			p.mu.Lock()
			if err != nil {
				p.failed++
			} else {
				p.acked = append(p.acked, herald.Publication{Data: data, StreamPosition: pos})
			}
			p.mu.Unlock()
			if err != nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { p.Finish() })
	return p
}

// Count is how many publications were acknowledged so far.
func (p *Publisher) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// WaitAcked waits until n more publications than now were acknowledged.
func (p *Publisher) WaitAcked(t testing.TB, n int) {
	t.Helper()
	want := p.Count() + n
	deadline := time.Now().Add(startTimeout)
	for p.Count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: fewer than %d publications acknowledged within %s", want, startTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Finish stops publishing and returns what was acknowledged, in order,
// and how many publishes failed.
func (p *Publisher) Finish() ([]herald.Publication, int) {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, p.failed
}
