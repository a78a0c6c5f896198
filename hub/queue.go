package hub

import "sync"

// queue is a connection's bounded outbound queue. Publishers push encoded
// messages without waiting; when the queue goes from empty to non-empty it
// is put on the hub's run queue, and one of the hub's writers drains
// everything queued by then into one transport write. An idle connection
// so holds no goroutine and no buffer for writing.
type queue struct {
	mu      sync.Mutex
	msgs    [][]byte
	spare   [][]byte // the last drained batch, reused to avoid an allocation per burst
	bytes   int
	limit   int
	high    int  // the most bytes ever queued: the timeline's high-water mark
	writing bool // on the run queue or being written by a writer
	closed  bool
	// stopped, when not nil, is closed when the queue leaves the run
	// queue and its last write has returned: closeFlush waits on it.
	stopped chan struct{}

	// s is the queue's session: its transport writes each batch, and it is
	// told (outside the lock) when a push would pass limit or a write fails.
	s *Session
}

// push queues msg. It never blocks on the network: a connection that has
// fallen limit bytes behind is cut off instead.
func (q *queue) push(msg []byte) {
	if set := q.s.traced.Load(); set != nil {
		q.s.traceFrame(set, "out", msg)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if q.bytes+len(msg) > q.limit && q.bytes > 0 {
		q.closed = true
		q.msgs, q.bytes = nil, 0
		q.mu.Unlock()
		go q.s.slow()
		return
	}
	q.msgs = append(q.msgs, msg)
	q.bytes += len(msg)
	if q.bytes > q.high {
		q.high = q.bytes
	}
	if q.writing {
		q.mu.Unlock()
		return
	}
	q.writing = true
	q.mu.Unlock()
	q.s.hub.writers.run.put(q)
}

// write is a writer's turn at the queue: one transport write of everything
// queued. What is pushed meanwhile waits for the queue's next turn, at the
// back of the run queue, so that a busy connection cannot keep a writer
// from the others.
func (q *queue) write(w *writer) {
	q.mu.Lock()
	batch := q.msgs
	if len(batch) == 0 || q.closed {
		q.idle()
		q.mu.Unlock()
		return
	}
	depth := q.bytes
	q.msgs, q.spare, q.bytes = q.spare[:0], nil, 0
	q.mu.Unlock()
	// Sampled: the histogram's shape is the same, and the writers do not
	// all bump its shared counters on every write.
	if w.n++; w.n%queueDepthSample == 0 {
		q.s.hub.m.QueueDepth.Observe(float64(depth))
	}

	q.s.hub.writers.begin(w)
	err := q.s.t.Write(batch)
	q.s.hub.writers.end(w)
	clear(batch)

	q.mu.Lock()
	if q.spare == nil {
		q.spare = batch[:0]
	}
	more := err == nil && len(q.msgs) > 0 && !q.closed
	if !more {
		q.idle()
	}
	q.mu.Unlock()
	if err != nil {
		q.s.closeSilently()
		return
	}
	if more {
		q.s.hub.writers.run.put(q)
	}
}

// idle marks the queue as off the run queue. The caller holds q.mu.
func (q *queue) idle() {
	q.writing = false
	// Let go of large batch slices so an idle connection stays small.
	if cap(q.spare) > 64 {
		q.spare = nil
	}
	if q.stopped != nil {
		close(q.stopped)
		q.stopped = nil
	}
}

// closeFlush refuses further pushes and returns what is queued but not
// written yet, once the queue is off the run queue and a write in flight
// has returned, so that the caller writes it after everything written
// before and ahead of its goodbye: the error replies that earned a client
// its 4501 arrive before the 4501. It must not be called from a writer.
func (q *queue) closeFlush() [][]byte {
	q.mu.Lock()
	q.closed = true
	for q.writing {
		if q.stopped == nil {
			q.stopped = make(chan struct{})
		}
		stopped := q.stopped
		q.mu.Unlock()
		<-stopped
		q.mu.Lock()
	}
	rest := q.msgs
	q.msgs, q.spare, q.bytes = nil, nil, 0
	q.mu.Unlock()
	return rest
}

// close drops what is queued and refuses further pushes; a writer in the
// middle of a write finishes it and stops.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.msgs, q.spare, q.bytes = nil, nil, 0
	q.mu.Unlock()
}
