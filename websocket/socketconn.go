package websocket

import (
	"net"
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
	if tc, ok := c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			s.raw = raw
		}
	}
	s.timeout.Store(int64(timeout))
	return s
}

func (c *socketConn) Write(p []byte) (int, error) {
	p = fixCloseCode(p)
	n := 0
	if c.raw != nil {
		var werr error
		err := c.raw.Write(func(fd uintptr) bool {
			for n < len(p) {
				m, err := syscall.Write(int(fd), p[n:])
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					if err != syscall.EAGAIN {
						werr = err
					}
					break
				}
				n += m
			}
			return true // never wait here: the deadline below bounds waiting
		})
		if err == nil {
			err = werr
		}
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
