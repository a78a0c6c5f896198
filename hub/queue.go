package hub

import "sync"

// queue is a connection's bounded outbound queue. Publishers push encoded
// messages without waiting; a writer goroutine, started when the queue goes
// from empty to non-empty and gone when it empties again, drains everything
// queued into one transport write. An idle connection so holds no goroutine
// and no buffer for writing.
type queue struct {
	mu      sync.Mutex
	msgs    [][]byte
	spare   [][]byte // the last drained batch, reused to avoid an allocation per burst
	bytes   int
	limit   int
	writing bool
	closed  bool
	// idle, when not nil, is closed when the writer stops: closeFlush
	// waits on it.
	idle chan struct{}

	// s is the queue's session: its transport writes each batch, and it is
	// told (outside the lock) when a push would pass limit or a write fails.
	s *Session
}

// push queues msg. It never blocks on the network: a connection that has
// fallen limit bytes behind is cut off instead.
func (q *queue) push(msg []byte) {
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
	if q.writing {
		q.mu.Unlock()
		return
	}
	q.writing = true
	q.mu.Unlock()
	go q.drain()
}

func (q *queue) drain() {
	for {
		q.mu.Lock()
		batch := q.msgs
		if len(batch) == 0 || q.closed {
			q.stopWriting()
			// Let go of large batch slices so an idle connection stays small.
			if cap(q.spare) > 64 {
				q.spare = nil
			}
			q.mu.Unlock()
			return
		}
		q.msgs, q.spare, q.bytes = q.spare[:0], nil, 0
		q.mu.Unlock()

		err := q.s.t.Write(batch)
		clear(batch)

		q.mu.Lock()
		if q.spare == nil {
			q.spare = batch[:0]
		}
		if err != nil {
			q.stopWriting()
			q.mu.Unlock()
			q.s.closeSilently()
			return
		}
		q.mu.Unlock()
	}
}

// stopWriting marks the writer gone, under q.mu.
func (q *queue) stopWriting() {
	q.writing = false
	if q.idle != nil {
		close(q.idle)
		q.idle = nil
	}
}

// closeFlush refuses further pushes and returns what is queued but not
// written yet, once a writer in the middle of a write has finished it, so
// that the caller writes it after everything written before and ahead of
// its goodbye: the error replies that earned a client its 4501 arrive
// before the 4501. It must not be called from the writer itself.
func (q *queue) closeFlush() [][]byte {
	q.mu.Lock()
	q.closed = true
	for q.writing {
		if q.idle == nil {
			q.idle = make(chan struct{})
		}
		idle := q.idle
		q.mu.Unlock()
		<-idle
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
