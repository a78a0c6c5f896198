package websocket

import (
	"encoding/binary"
	"errors"
	"io"
	"runtime/debug"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/lxzan/gws"

	"github.com/heraldrt/herald"
)

// The epoll engine's read path. An idle connection holds no goroutine and
// no buffer: the poller (poller_linux.go) starts run when the socket has
// input; run reads what is there into a pooled buffer, handles every
// whole frame, keeps an incomplete one's bytes (c.pending) and re-arms
// the socket. Writes still go through gws (conn.go), which framed them
// before and compresses them.

// The reader's state bits.
const (
	stBusy    uint32 = 1 << iota // a goroutine reads or ends the connection
	stClosing                    // the connection is to end at the reader's next look
	stDone                       // HandleClose has been called
)

// readBuf is a running reader's buffer and one read's result; pooled,
// with the read function bound once, so that a read allocates nothing.
type readBuf struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var readBufs = sync.Pool{New: func() any {
	r := &readBuf{b: make([]byte, 16<<10)}
	r.fn = r.read
	return r
}}

func (r *readBuf) read(fd uintptr) bool {
	for {
		r.n, r.err = sysRead(fd, r.b)
		if r.err != syscall.EINTR {
			return true // never wait: the poller says when there is more
		}
	}
}

// readable starts a reader for c unless one runs or c has ended; the
// poller calls it with input pending.
func (c *conn) readable() {
	for {
		s := c.state.Load()
		if s&(stBusy|stDone) != 0 {
			return
		}
		if c.state.CompareAndSwap(s, s|stBusy) {
			go c.run()
			return
		}
	}
}

// shut ends c's read side once its socket is closed: the running reader
// does it, or a goroutine started here when none runs.
func (c *conn) shut() {
	for {
		s := c.state.Load()
		switch {
		case s&stDone != 0:
			return
		case s&stBusy != 0:
			if c.state.CompareAndSwap(s, s|stClosing) {
				return
			}
		case c.state.CompareAndSwap(s, s|stBusy|stClosing):
			go c.finish()
			return
		}
	}
}

func (c *conn) run() {
	defer func() {
		if e := recover(); e != nil {
			c.h.log.Error("panic while handling a WebSocket connection", "panic", e, "stack", string(debug.Stack()))
			c.end(errPanic)
		}
	}()
	rb := readBufs.Get().(*readBuf)
	defer readBufs.Put(rb)
	for {
		if c.state.Load()&stClosing != 0 {
			c.finish()
			return
		}
		more, err := c.readOnce(rb)
		if err != nil {
			c.end(err)
			return
		}
		if more {
			continue
		}
		if c.release() {
			thePoller.arm(c)
		}
		return
	}
}

// release lets go of stBusy, or ends the connection if it is closing;
// it says whether the connection goes on.
func (c *conn) release() bool {
	for {
		s := c.state.Load()
		if s&stClosing != 0 {
			c.finish()
			return false
		}
		if c.state.CompareAndSwap(s, s&^stBusy) {
			return true
		}
	}
}

// start hands the connection to the poller once the session is set: the
// handler has held stBusy since the upgrade, so that a close during
// Accept is reported only now.
func (c *conn) start() {
	if !c.release() {
		return
	}
	if err := thePoller.add(c); err != nil && c.state.Load()&stClosing == 0 {
		c.h.log.Error("cannot watch a WebSocket connection for input; closing it", "remote", c.sc.RemoteAddr().String(), "err", err)
		_ = c.Close(herald.DisconnectServerError)
	}
}

// readOnce reads once without waiting and handles the whole frames;
// more says the buffer filled, so that more may be waiting.
func (c *conn) readOnce(rb *readBuf) (more bool, err error) {
	if cerr := c.raw.Read(rb.fn); cerr != nil {
		return false, cerr
	}
	buf, n, rerr := rb.b, rb.n, rb.err
	rb.err = nil
	switch {
	case rerr == syscall.EAGAIN:
		return false, nil
	case rerr != nil:
		return false, rerr
	case n == 0:
		return false, io.EOF
	}
	data := buf[:n]
	if c.pending != nil {
		c.pending = append(c.pending, data...)
		data = c.pending
	}
	rest, err := c.frames(data)
	switch {
	case err != nil || len(rest) == 0:
		c.pending = nil
	case c.pending != nil:
		c.pending = append(c.pending[:0], rest...)
	default:
		c.pending = append([]byte(nil), rest...)
	}
	return n == len(buf), err
}

// closeErr ends the connection: send is the close frame's code and reason,
// report what HandleClose is told.
type closeErr struct {
	send   uint16
	reason string
	report herald.Disconnect
}

func (e *closeErr) Error() string { return e.reason }

func protocolError(reason string) error {
	return &closeErr{send: 1002, reason: reason, report: herald.Disconnect{Code: 1002, Name: "protocol_error", Reason: reason}}
}

func disconnectError(d herald.Disconnect) error {
	return &closeErr{send: d.Code, reason: d.Reason, report: d}
}

var (
	errTooBig = disconnectError(herald.DisconnectMessageTooBig)
	errPanic  = disconnectError(herald.DisconnectServerError)
	// errStopped: the connection was closed while handling a frame.
	errStopped = errors.New("websocket: connection closed")
)

// frames handles the whole frames at the start of data and returns the
// bytes of an incomplete one.
func (c *conn) frames(data []byte) ([]byte, error) {
	max := uint64(c.h.opts.MaxMessageSize)
	for len(data) >= 2 {
		b0, b1 := data[0], data[1]
		if b0&0x30 != 0 {
			return nil, protocolError("reserved bits set")
		}
		if b1&0x80 == 0 {
			return nil, protocolError("client frame not masked")
		}
		fin, rsv1, op := b0&0x80 != 0, b0&0x40 != 0, b0&0x0f
		length, hdr := uint64(b1&0x7f), 2
		switch length {
		case 126:
			if len(data) < 4 {
				return data, nil
			}
			length, hdr = uint64(binary.BigEndian.Uint16(data[2:4])), 4
		case 127:
			if len(data) < 10 {
				return data, nil
			}
			length, hdr = binary.BigEndian.Uint64(data[2:10]), 10
		}
		if op >= 8 && (!fin || length > 125 || rsv1) {
			return nil, protocolError("invalid control frame")
		}
		if length > max {
			return nil, errTooBig
		}
		end := hdr + 4 + int(length)
		if len(data) < end {
			return data, nil
		}
		payload := data[hdr+4 : end]
		unmask(payload, data[hdr:hdr+4])
		data = data[end:]
		if err := c.frame(fin, rsv1, op, payload); err != nil {
			return nil, err
		}
		if c.state.Load()&stClosing != 0 {
			return nil, errStopped
		}
	}
	return data, nil
}

func unmask(p, key []byte) {
	k := binary.LittleEndian.Uint32(key)
	k64 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// frame handles one frame, its payload unmasked.
func (c *conn) frame(fin, rsv1 bool, op byte, payload []byte) error {
	switch op {
	case 0x8:
		return c.peerClose(payload)
	case 0x9:
		_ = c.socket.WritePong(payload)
		return nil
	case 0xa:
		return nil
	case 0x0:
		if c.fragOp == 0 || rsv1 {
			return protocolError("unexpected continuation frame")
		}
		if len(c.frag)+len(payload) > c.h.opts.MaxMessageSize {
			return errTooBig
		}
		c.frag = append(c.frag, payload...)
		if !fin {
			return nil
		}
		msg, op, deflated := c.frag, c.fragOp, c.fragDeflated
		c.frag, c.fragOp = nil, 0
		return c.message(op, deflated, msg)
	case 0x1, 0x2:
		if c.fragOp != 0 {
			return protocolError("new message inside a fragmented one")
		}
		if rsv1 && !c.deflate {
			return protocolError("compressed frame without permessage-deflate")
		}
		if !fin {
			c.fragOp, c.fragDeflated = op, rsv1
			c.frag = append([]byte(nil), payload...)
			return nil
		}
		return c.message(op, rsv1, payload)
	}
	return protocolError("unknown opcode")
}

// message hands a whole message to the session.
func (c *conn) message(op byte, deflated bool, p []byte) error {
	if deflated {
		in, err := inflate(p, c.h.opts.MaxMessageSize)
		if err != nil {
			return err
		}
		defer in.release()
		p = in.out
	}
	if op != 0x1 {
		_ = c.Close(herald.DisconnectUnsupportedData)
		return errStopped
	}
	if !utf8.Valid(p) {
		return disconnectError(herald.DisconnectInvalidUTF8)
	}
	c.h.msgsIn.Inc()
	c.h.bytesIn.Add(float64(len(p)))
	c.sess.HandleFrame(p)
	return nil
}

// peerClose answers the client's close frame as gws does: its code
// echoed, 1000 for the codes a peer sends for itself, 1002 for a code a
// peer may not send.
func (c *conn) peerClose(p []byte) error {
	var code uint16
	var reason []byte
	send := uint16(1000)
	switch {
	case len(p) == 1:
		code, send = uint16(p[0]), 1002
	case len(p) >= 2:
		code, reason = binary.BigEndian.Uint16(p), p[2:]
		switch {
		case code == 1004 || code == 1005 || code == 1006 || code == 1014 || code == 1015,
			code < 1000 || code >= 5000 || (code >= 1016 && code < 3000):
			send = 1002
		case code >= 3000:
			send = code
		}
		if !utf8.Valid(reason) {
			send = 1007
		}
	}
	d := closeReason(&gws.CloseError{Code: code, Reason: append([]byte(nil), reason...)})
	return &closeErr{send: send, report: *d}
}

// end closes the connection after the read side failed or the peer
// closed, then reports it.
func (c *conn) end(err error) {
	thePoller.remove(c)
	var ce *closeErr
	if errors.As(err, &ce) {
		c.closeWith.CompareAndSwap(nil, &ce.report)
		_ = c.socket.WriteClose(ce.send, []byte(ce.reason))
	} else {
		// EOF, a reset, or a close of ours: nothing to say to the peer.
		_ = c.socket.WriteClose(1000, nil)
	}
	c.finish()
}

// finish reports the end to the session, once; the caller holds stBusy.
func (c *conn) finish() {
	for {
		s := c.state.Load()
		if s&stDone != 0 {
			return
		}
		if c.state.CompareAndSwap(s, s|stDone) {
			break
		}
	}
	thePoller.remove(c)
	c.pending, c.frag = nil, nil
	if c.sess != nil {
		c.sess.HandleClose(c.closeWith.Load())
	}
}
