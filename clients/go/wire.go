package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
)

// wire is what a connection runs over: a WebSocket or an HTTP fallback
// stream. Frames are newline-separated messages either way.
type wire interface {
	read(ctx context.Context) ([]byte, error)
	write(ctx context.Context, frame []byte) error
	// close ends the wire, with a close handshake carrying code where the
	// transport has one; code 0 ends it at once.
	close(code websocket.StatusCode, reason string)
}

var errBinary = errors.New("a binary message")

type wsWire struct{ ws *websocket.Conn }

func (w wsWire) read(ctx context.Context) ([]byte, error) {
	typ, frame, err := w.ws.Read(ctx)
	if err == nil && typ != websocket.MessageText {
		return nil, errBinary
	}
	return frame, err
}

func (w wsWire) write(ctx context.Context, frame []byte) error {
	return w.ws.Write(ctx, websocket.MessageText, frame)
}

func (w wsWire) close(code websocket.StatusCode, reason string) {
	if code == 0 {
		w.ws.CloseNow()
		return
	}
	w.ws.Close(code, reason)
}

// streamWire is an HTTP fallback stream as a wire.
type streamWire struct{ s *Stream }

func (w streamWire) read(ctx context.Context) ([]byte, error) { return w.s.Read(ctx) }

func (w streamWire) write(ctx context.Context, frame []byte) error { return w.s.Write(ctx, frame) }

func (w streamWire) close(websocket.StatusCode, string) { w.s.Close() }

// dialWire opens one transport.
func dialWire(ctx context.Context, c *Client, transport string) (wire, error) {
	if transport == TransportWebSocket {
		ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
			HTTPClient:   c.opts.HTTPClient,
			HTTPHeader:   c.opts.HTTPHeader,
			Subprotocols: []string{subprotocol},
		})
		if err != nil {
			return nil, &dialError{err: describeDialError(c.url, err, resp), retryAfter: retryAfter(resp)}
		}
		ws.SetReadLimit(readLimit)
		return wsWire{ws}, nil
	}
	u, err := StreamURL(c.url, transport)
	if err != nil {
		return nil, err
	}
	st, err := DialStream(ctx, c.opts.HTTPClient, c.opts.HTTPHeader, u, transport)
	if err != nil {
		return nil, err
	}
	return streamWire{st}, nil
}

// dialAny tries the transports in order, the one that worked last first,
// and returns the first that opens.
func dialAny(ctx context.Context, c *Client) (wire, string, error) {
	order := c.opts.Transports
	if last := c.lastTransport(); last != "" && last != order[0] {
		order = append([]string{last}, without(order, last)...)
	}
	var errs []error
	for _, t := range order {
		w, err := dialWire(ctx, c, t)
		if err == nil {
			return w, t, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", errors.Join(errs...)
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
