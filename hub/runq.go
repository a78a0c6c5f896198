package hub

import "sync"

// runq is a FIFO of work (connections with something to write, channel
// shards with publications to fan out) shared by a fixed set of worker
// goroutines. Each item is put at most once until a worker has taken it,
// so the list is bounded by the number of connections or shards.
type runq[T any] struct {
	mu      sync.Mutex
	cond    sync.Cond
	items   []T
	head    int // items[head:] are waiting
	idle    int // workers blocked in take
	stopped bool
}

func (r *runq[T]) init() { r.cond.L = &r.mu }

// put queues x for a worker. After stop it is still queued: a worker that
// puts back what it has not finished takes it again before it sees the
// queue empty, so that stopping drains.
func (r *runq[T]) put(x T) {
	r.mu.Lock()
	r.items = append(r.items, x)
	wake := r.idle > 0
	r.mu.Unlock()
	if wake {
		r.cond.Signal()
	}
}

// take waits for the oldest item. It reports false once the queue is
// stopped and empty: what was queued before stop is still handed out, so
// that stopping drains.
func (r *runq[T]) take() (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.head == len(r.items) {
		if r.stopped {
			var zero T
			return zero, false
		}
		r.idle++
		r.cond.Wait()
		r.idle--
	}
	x := r.items[r.head]
	var zero T
	r.items[r.head] = zero
	r.head++
	switch {
	case r.head == len(r.items):
		// Empty again: start over at the front. The slice is kept for the
		// next burst (a fan-out to 10k connections puts 10k at once)
		// unless an outsized one grew it.
		r.head = 0
		if cap(r.items) > 1<<16 {
			r.items = nil
		} else {
			r.items = r.items[:0]
		}
	case r.head >= 1024 && 2*r.head >= len(r.items):
		// Never empty under steady load: move the waiting half down so
		// the slice does not grow without end.
		n := copy(r.items, r.items[r.head:])
		clear(r.items[n:])
		r.items, r.head = r.items[:n], 0
	}
	return x, true
}

// stop makes take return false once the queue is empty, and wakes every
// idle worker to see it.
func (r *runq[T]) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.cond.Broadcast()
}
