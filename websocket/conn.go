package websocket

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lxzan/gws"

	"github.com/heraldrt/herald"
)

const name = "websocket"

var newline = []byte{'\n'}

// conn is one WebSocket connection as herald.Transport. It doubles as the
// gws session storage, so that finding it from a gws callback costs no map.
type conn struct {
	h      *Handler
	socket *gws.Conn
	sc     *socketConn
	sess   herald.Session

	// The epoll engine's read state (reader.go); raw is nil on the
	// goroutine engine, where gws's ReadLoop reads.
	raw          syscall.RawConn
	id           uint32 // the poller's key
	deflate      bool   // permessage-deflate was negotiated
	fragDeflated bool
	fragOp       byte
	state        atomic.Uint32
	pending      []byte // an incomplete frame's bytes
	frag         []byte // a fragmented message's payload so far
	closeWith    atomic.Pointer[herald.Disconnect]
}

var _ herald.Transport = (*conn)(nil)

func (c *conn) Name() string { return name }

// partsPool recycles the slices that interleave messages with newlines.
var partsPool = sync.Pool{New: func() any { s := make([][]byte, 0, 32); return &s }}

// Write sends the messages as one text frame, newline-separated. The
// socket bounds a write that has to wait by the write timeout
// (socketConn), so no deadline is set here.
func (c *conn) Write(msgs [][]byte) error {
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	c.h.msgsOut.Add(float64(len(msgs)))
	c.h.bytesOut.Add(float64(n + len(msgs) - 1))
	if len(msgs) == 1 {
		return c.socket.WriteMessage(gws.OpcodeText, msgs[0])
	}
	pp := partsPool.Get().(*[][]byte)
	parts := (*pp)[:0]
	for i, m := range msgs {
		if i > 0 {
			parts = append(parts, newline)
		}
		parts = append(parts, m)
	}
	err := c.socket.Writev(gws.OpcodeText, parts...)
	clear(parts)
	*pp = parts[:0]
	partsPool.Put(pp)
	return err
}

// Close sends a close frame with the disconnect's code and reason and
// closes the socket. The close frame gets a short deadline: a peer that
// does not read is not waited for.
func (c *conn) Close(d herald.Disconnect) error {
	c.sc.timeout.Store(int64(time.Second))
	if c.raw == nil {
		return c.socket.WriteClose(d.Code, []byte(d.Reason))
	}
	// The poller lets go of the descriptor before it is closed; the
	// session hears of the close as on the goroutine engine, with the
	// catalog's disconnect for the code.
	thePoller.remove(c)
	report := d
	if known, ok := herald.DisconnectByCode(d.Code); ok {
		report = known
	}
	c.closeWith.CompareAndSwap(nil, &report)
	err := c.socket.WriteClose(d.Code, []byte(d.Reason))
	c.shut()
	return err
}

// gws.SessionStorage, unused beyond holding the conn itself.
func (c *conn) Len() int                     { return 0 }
func (c *conn) Load(string) (any, bool)      { return nil, false }
func (c *conn) Delete(string)                {}
func (c *conn) Store(string, any)            {}
func (c *conn) Range(func(string, any) bool) {}
