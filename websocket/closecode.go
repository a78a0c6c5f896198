package websocket

import (
	"bytes"
	"encoding/binary"
)

// gws closes a compressed message that inflates past ReadMaxPayloadSize
// with 1011 (it wraps the inflater's 1009 as an internal error) where an
// uncompressed one gets 1009, the code docs/protocol.md promises for both.
// gws has no hook between its inflater and the close frame it writes, so
// the connection handed to gws (socketConn) rewrites that one close
// frame's code on its way out; every other write passes through untouched.
// The epoll read path inflates itself and sends 1009 directly.

// tooLargeReason is what gws puts in the reason of that close frame.
var tooLargeReason = []byte("message too large")

// fixCloseCode returns p with the close code 1009 when p is gws's 1011
// close frame for an oversize inflated message, else p itself.
func fixCloseCode(p []byte) []byte {
	// A server's close frame: FIN+opcode 8, unmasked, a short payload of
	// code and reason; gws writes each frame with one Write.
	if len(p) >= 4 && p[0] == 0x88 && p[1] < 126 && int(p[1]) == len(p)-2 &&
		binary.BigEndian.Uint16(p[2:4]) == 1011 && bytes.Contains(p[4:], tooLargeReason) {
		fixed := append([]byte(nil), p...)
		binary.BigEndian.PutUint16(fixed[2:4], 1009)
		return fixed
	}
	return p
}
