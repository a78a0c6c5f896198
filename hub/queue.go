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
			q.writing = false
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
		q.mu.Unlock()
		if err != nil {
			q.s.closeSilently()
			return
		}
	}
}

// close drops what is queued and refuses further pushes; a writer in the
// middle of a write finishes it and stops.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.msgs, q.spare, q.bytes = nil, nil, 0
	q.mu.Unlock()
}
