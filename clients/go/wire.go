package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

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

// streamWire reads its Stream on a goroutine of its own, so that a read
// can give up when its context ends as a WebSocket read does.
type streamWire struct {
	s      *Stream
	frames chan streamFrame
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

type streamFrame struct {
	frame []byte
	err   error
}

func newStreamWire(s *Stream) *streamWire {
	w := &streamWire{s: s, frames: make(chan streamFrame), done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			f, err := s.Read()
			select {
			case w.frames <- streamFrame{f, err}:
			case <-w.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return w
}

func (w *streamWire) read(ctx context.Context) ([]byte, error) {
	select {
	case f := <-w.frames:
		return f.frame, f.err
	case <-w.done:
		return nil, errors.New("the stream was closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (w *streamWire) write(ctx context.Context, frame []byte) error { return w.s.Write(ctx, frame) }

// close ends the GET: a stream has no close handshake, the server sees
// the request end.
func (w *streamWire) close(websocket.StatusCode, string) {
	w.once.Do(func() {
		close(w.done)
		w.s.Close()
	})
	w.wg.Wait()
}

// dialWire opens one transport.
func dialWire(ctx context.Context, c *Client, transport string) (wire, error) {
	if transport == TransportWebSocket {
		ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
			HTTPClient:   c.opts.HTTPClient,
			HTTPHeader:   c.opts.HTTPHeader,
			Subprotocols: []string{subprotocol},
		})
		if err != nil {
			return nil, describeDialError(c.url, err, resp)
		}
		ws.SetReadLimit(readLimit)
		return wsWire{ws}, nil
	}
	u, err := StreamURL(c.url, transport)
	if err != nil {
		return nil, err
	}
	// The stream outlives the dial: only its opening is bounded by ctx.
	type result struct {
		s   *Stream
		err error
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	got := make(chan result, 1)
	go func() {
		s, err := DialStream(sctx, c.opts.HTTPClient, c.opts.HTTPHeader, u, transport)
		got <- result{s, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			cancel()
			return nil, r.err
		}
		r.s.cancel = chainCancel(r.s.cancel, cancel)
		return newStreamWire(r.s), nil
	case <-ctx.Done():
		cancel()
		<-got
		return nil, fmt.Errorf("herald: open %s: %w", u, ctx.Err())
	}
}

func chainCancel(a, b context.CancelFunc) context.CancelFunc { return func() { a(); b() } }

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
