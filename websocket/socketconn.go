package websocket

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// socketConn is the connection gws writes to. A write first tries the
// socket once without waiting: a client that reads keeps room in its
// socket buffer, so nearly every write completes there and needs no
// deadline. Only a write the kernel cannot take whole sets the write
// deadline and waits for the rest. Setting a deadline before every write
// was 14% of a fan-out's CPU at 10,000 subscribers and 2 publications a
// second (docs/benchmarks.md).
type socketConn struct {
	net.Conn
	raw syscall.RawConn // nil when the connection has no descriptor (TLS)
	// timeout is the wait a blocked write gets, in nanoseconds: the
	// handler's write timeout, one second for the close frame.
	timeout atomic.Int64
}

func newSocketConn(c net.Conn, timeout time.Duration) *socketConn {
	s := &socketConn{Conn: c}
	if tc, ok := c.(*net.TCPConn); ok && rawIO {
		if raw, err := tc.SyscallConn(); err == nil {
			s.raw = raw
		}
	}
	s.timeout.Store(int64(timeout))
	return s
}

// tryWrite is one write attempt that does not wait, with its result; the
// attempts are pooled, so that a write allocates nothing (a closure per
// write would be three allocations per delivery).
type tryWrite struct {
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var tryWrites = sync.Pool{New: func() any { t := new(tryWrite); t.fn = t.write; return t }}

func (t *tryWrite) write(fd uintptr) bool {
	for t.n < len(t.p) {
		m, err := sysWrite(fd, t.p[t.n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			if err != syscall.EAGAIN {
				t.err = err
			}
			break
		}
		t.n += m
	}
	return true // never wait here: the deadline in Write bounds waiting
}

func (c *socketConn) Write(p []byte) (int, error) {
	p = fixCloseCode(p)
	n := 0
	if c.raw != nil {
		t := tryWrites.Get().(*tryWrite)
		t.p, t.n, t.err = p, 0, nil
		err := c.raw.Write(t.fn)
		if err == nil {
			err = t.err
		}
		n = t.n
		t.p, t.err = nil, nil
		tryWrites.Put(t)
		if err != nil {
			return n, &net.OpError{Op: "write", Net: "tcp", Addr: c.RemoteAddr(), Err: err}
		}
		if n == len(p) {
			return n, nil
		}
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(time.Duration(c.timeout.Load()))); err != nil {
		return n, err
	}
	m, err := c.Conn.Write(p[n:])
	return n + m, err
}
