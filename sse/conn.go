package sse

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldrt/herald"
)

// conn is one stream as herald.Transport. Its GET handler's goroutine
// owns the response; Write and Close reach it under mu until the handler
// returns.
type conn struct {
	name  string // SSE or HTTPStream
	id    string // the session id: node id, ".", random
	token string // the secret a POST must show
	h     *Handler
	w     http.ResponseWriter
	rc    *http.ResponseController

	msgsOut, bytesOut prometheus.Counter

	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
	done   chan struct{} // closed by Close: the handler ends the response

	// frameMu keeps the session's frames in order and one at a time, as
	// herald.Session asks: POSTs arrive on goroutines of their own.
	frameMu sync.Mutex
	sess    herald.Session
	ended   bool // the session has been told it closed; under frameMu
}

var _ herald.Transport = (*conn)(nil)

var errClosed = errors.New("sse: the stream has ended")

func (c *conn) Name() string { return c.name }

// Write sends the messages as one frame: an SSE event with one data line
// per message (EventSource joins them with newlines, as a WebSocket frame
// holds them), or one line per message on the HTTP stream.
func (c *conn) Write(msgs [][]byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	n := 0
	c.buf.Reset()
	for _, m := range msgs {
		n += len(m)
		if c.name == SSE {
			c.buf.WriteString("data: ")
		}
		c.buf.Write(m)
		c.buf.WriteByte('\n')
	}
	if c.name == SSE {
		c.buf.WriteByte('\n')
	}
	c.msgsOut.Add(float64(len(msgs)))
	c.bytesOut.Add(float64(n + len(msgs) - 1))
	return c.write(c.buf.Bytes())
}

// write sends p and flushes it; the caller holds mu.
func (c *conn) write(p []byte) error {
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.h.opts.WriteTimeout))
	if _, err := c.w.Write(p); err != nil {
		return err
	}
	return c.rc.Flush()
}

// Close ends the response; the disconnect push, written before it by the
// hub, is what tells the client why. A stream has no close frame.
func (c *conn) Close(herald.Disconnect) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	return nil
}

// handleFrame feeds one batch of commands to the session, unless it has
// ended; it reports whether it did.
func (c *conn) handleFrame(frame []byte) bool {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if c.ended {
		return false
	}
	c.h.msgsIn[c.name].Inc()
	c.h.bytesIn[c.name].Add(float64(len(frame)))
	c.sess.HandleFrame(frame)
	return true
}

// end tells the session that the stream is gone, once.
func (c *conn) end() {
	c.frameMu.Lock()
	defer c.frameMu.Unlock()
	if !c.ended {
		c.ended = true
		c.sess.HandleClose(nil)
	}
}
