package websocket

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// fakeConn is a connection from a given address, for the limiter's
// bookkeeping; only RemoteAddr, Write and Close are used.
type fakeConn struct {
	net.Conn
	addr   net.Addr
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr             { return c.addr }
func (c *fakeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fakeConn) Close() error                     { c.closed = true; return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func from(ip string) *fakeConn                       { return &fakeConn{addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}} }

// TestHandshakesPerIP: one address is capped, others and loopback are not,
// and a finished request frees its place.
func TestHandshakesPerIP(t *testing.T) {
	l := NewHandshakeLimiter(HandshakeLimits{Max: 100, PerIP: 2})
	a1, a2, a3 := from("192.0.2.1"), from("192.0.2.1"), from("192.0.2.1")
	for _, c := range []*fakeConn{a1, a2, a3} {
		l.ConnState(c, http.StateNew)
	}
	if a1.closed || a2.closed || !a3.closed {
		t.Fatalf("closed: %v %v %v, want only the third", a1.closed, a2.closed, a3.closed)
	}
	l.ConnState(a3, http.StateClosed)
	refused := func(ip string) bool {
		c := from(ip)
		l.ConnState(c, http.StateNew)
		return c.closed
	}
	if refused("192.0.2.2") {
		t.Fatal("another address was refused")
	}
	for range 5 {
		if refused("127.0.0.1") {
			t.Fatal("a loopback peer was capped")
		}
	}
	l.ConnState(a1, http.StateHijacked)
	if refused("192.0.2.1") {
		t.Fatal("an upgraded connection still holds its place")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total != 8 || l.perIP["192.0.2.1"] != 2 {
		t.Fatalf("total %d, per address %v", l.total, l.perIP)
	}
}
