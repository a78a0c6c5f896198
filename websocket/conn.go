package websocket

import (
	"sync"
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
	sess   herald.Session
}

var _ herald.Transport = (*conn)(nil)

func (c *conn) init(h *Handler, socket *gws.Conn) { c.h, c.socket = h, socket }

func (c *conn) Name() string { return name }

// partsPool recycles the slices that interleave messages with newlines.
var partsPool = sync.Pool{New: func() any { s := make([][]byte, 0, 32); return &s }}

// Write sends the messages as one text frame, newline-separated.
func (c *conn) Write(msgs [][]byte) error {
	_ = c.socket.SetWriteDeadline(time.Now().Add(c.h.opts.WriteTimeout))
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
	_ = c.socket.SetWriteDeadline(time.Now().Add(time.Second))
	return c.socket.WriteClose(d.Code, []byte(d.Reason))
}

// gws.SessionStorage, unused beyond holding the conn itself.
func (c *conn) Len() int                     { return 0 }
func (c *conn) Load(string) (any, bool)      { return nil, false }
func (c *conn) Delete(string)                {}
func (c *conn) Store(string, any)            {}
func (c *conn) Range(func(string, any) bool) {}
