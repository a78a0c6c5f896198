package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

const (
	// subprotocol is the JSON protocol v1's WebSocket subprotocol.
	subprotocol = "herald.json"
	// readLimit bounds one incoming WebSocket message. The server
	// coalesces whatever is queued for a connection (up to its 1 MiB queue
	// by default) into one message; coder/websocket's 32 KiB default would
	// cut off normal traffic.
	readLimit = 16 << 20
	// writeTimeout bounds each write, so that a stuck server cannot hold
	// commands forever; a write that times out ends the connection.
	writeTimeout = 10 * time.Second
)

// serverMessage is anything the server sends: a reply (with an id) or a
// push (without). Reply and Push share no JSON keys, so one decode fits both.
type serverMessage struct {
	protocol.Reply
	protocol.Push
}

// replyHandler receives a command's reply, or ErrConnectionLost. It runs
// on the connection's reader goroutine, so replies and pushes are handled
// in the order they arrived.
type replyHandler func(*protocol.Reply, error)

// ending says why a connection ended and whether to connect again.
type ending struct {
	code      uint32
	reason    string
	reconnect bool
	// retryAfter is the least wait the server asked for before the next
	// attempt (an upgrade refused 503 with Retry-After, or a disconnect
	// push's reconnect_in); 0: none.
	retryAfter time.Duration
}

// conn is one WebSocket connection: a reader goroutine that handles every
// message in order, a writer goroutine that sends queued commands, several
// per WebSocket message, and tasks that wait for the application (GetToken)
// before they send. The run loop owns it: shutdown stops them all and
// waits for them.
type conn struct {
	c         *Client
	ws        wire
	transport string // the transport's name
	maxMsg    int

	mu       sync.Mutex
	pending  map[uint32]replyHandler
	out      [][]byte // encoded commands waiting for the writer
	ended    bool     // the reader exited: nothing more is sent or answered
	stopping bool     // shutdown began: no new task

	ctx    context.Context // the tasks' context: shutdown cancels it
	cancel context.CancelFunc
	tasks  sync.WaitGroup

	// renew schedules the refresh of the connection's credentials.
	// Guarded by the client's mu.
	renew renewal

	wake chan struct{} // 1-buffered: out has something
	stop chan struct{} // closed by shutdown
	done chan struct{} // closed when the reader exits; end is set then
	end  ending
	wg   sync.WaitGroup

	// Owned by the reader goroutine (replies run on it too).
	readTimeout time.Duration // with no message for this long, the connection is dead (0: no limit)
	timeoutCode uint32
	disconnect  *protocol.DisconnectPush // the server's goodbye, if it sent one
}

func dial(ctx context.Context, c *Client) (*conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	defer cancel()
	ws, transport, err := dialAny(dialCtx, c)
	if err != nil {
		return nil, err
	}
	c.setTransport(transport)
	cn := &conn{
		c:           c,
		ws:          ws,
		transport:   transport,
		maxMsg:      c.opts.MaxMessageSize,
		pending:     make(map[uint32]replyHandler),
		wake:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		readTimeout: c.opts.ConnectTimeout,
		timeoutCode: CodeConnectTimeout,
	}
	cn.ctx, cn.cancel = context.WithCancel(ctx)
	cn.wg.Add(2)
	go cn.read()
	go cn.write()
	return cn, nil
}

// dialError is a failed dial, with the wait the server asked for.
type dialError struct {
	err        error
	retryAfter time.Duration
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// retryAfter reads the Retry-After of an upgrade the server refused as
// too busy (503, admission control): whole seconds, as Herald sends it;
// an HTTP date or garbage gives 0, the usual backoff.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 3600)) * time.Second
}

// describeDialError keeps what a person acts on: the HTTP status and body
// that refused the upgrade, or the network error.
func describeDialError(url string, err error, resp *http.Response) error {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		msg := fmt.Sprintf("herald: dial %s: handshake refused: HTTP %s", url, resp.Status)
		if resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			if s := strings.TrimSpace(string(b)); s != "" {
				msg += ": " + s
			}
		}
		return errors.New(msg)
	}
	return fmt.Errorf("herald: dial %s: %w", url, err)
}

// send registers h for the reply to each command that has an id and queues
// the commands, in order and together, so that the writer puts them in as
// few WebSocket messages as MaxMessageSize allows. It reports false if the
// connection has ended: then nothing was sent and no handler will run.
func (cn *conn) send(cmds []*protocol.Command, handlers []replyHandler) (bool, error) {
	msgs := make([][]byte, len(cmds))
	for i, cmd := range cmds {
		b, err := json.Marshal(cmd)
		if err != nil {
			return true, fmt.Errorf("herald: encode %s: %w", cmd.Name(), err)
		}
		msgs[i] = b
	}
	cn.mu.Lock()
	if cn.ended {
		cn.mu.Unlock()
		return false, nil
	}
	for i, cmd := range cmds {
		if cmd.ID != 0 && handlers[i] != nil {
			cn.pending[cmd.ID] = handlers[i]
		}
	}
	cn.out = append(cn.out, msgs...)
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	return true, nil
}

// forget drops the handler of a command whose caller stopped waiting; its
// reply, if it comes, is ignored.
func (cn *conn) forget(id uint32) {
	cn.mu.Lock()
	delete(cn.pending, id)
	cn.mu.Unlock()
}

func (cn *conn) take(id uint32) replyHandler {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	h := cn.pending[id]
	delete(cn.pending, id)
	return h
}

// write is the writer goroutine.
func (cn *conn) write() {
	defer cn.wg.Done()
	for {
		select {
		case <-cn.stop:
			return
		case <-cn.wake:
		}
		for {
			frame := cn.nextFrame()
			if frame == nil {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := cn.ws.write(ctx, frame)
			cancel()
			if err != nil {
				// The reader notices and has the better explanation (the
				// server's disconnect push or close frame).
				cn.c.log.Debug("write failed", "err", err)
				cn.ws.close(0, "")
				return
			}
		}
	}
}

// nextFrame joins queued commands with newlines, as many as fit in maxMsg
// (at least one, which the server refuses with 1009 if it is too big).
func (cn *conn) nextFrame() []byte {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.out) == 0 {
		return nil
	}
	n, size := 1, len(cn.out[0])
	for n < len(cn.out) && size+1+len(cn.out[n]) <= cn.maxMsg {
		size += 1 + len(cn.out[n])
		n++
	}
	frame := bytes.Join(cn.out[:n], []byte{'\n'})
	cn.out = cn.out[n:]
	if len(cn.out) == 0 {
		cn.out = nil // let the backing array go
	}
	return frame
}

// read is the reader goroutine: it splits messages into lines and hands
// each to the client in order. It answers pings itself, through the writer
// queue, so that a slow application cannot cost the connection.
func (cn *conn) read() {
	defer cn.wg.Done()
	end := cn.readLoop()
	cn.mu.Lock()
	cn.ended = true
	pending := cn.pending
	cn.pending = nil
	cn.out = nil
	cn.mu.Unlock()
	cn.end = end
	close(cn.done)
	for _, h := range pending {
		h(nil, ErrConnectionLost)
	}
}

func (cn *conn) readLoop() ending {
	for {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if cn.readTimeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, cn.readTimeout)
		}
		frame, err := cn.ws.read(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if errors.Is(err, errBinary) {
			return cn.badMessage("a binary message")
		}
		if err != nil {
			if timedOut && cn.disconnect == nil {
				cn.ws.close(0, "")
				return ending{code: cn.timeoutCode, reason: codeReasons[cn.timeoutCode], reconnect: true}
			}
			return cn.closeReason(err)
		}
		for line := range bytes.SplitSeq(frame, []byte{'\n'}) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			var m serverMessage
			if err := json.Unmarshal(line, &m); err != nil {
				return cn.badMessage(fmt.Sprintf("%.200q: %v", line, err))
			}
			cn.handle(&m)
		}
	}
}

func (cn *conn) badMessage(what string) ending {
	cn.c.emitError(fmt.Errorf("herald: the server sent %s; reconnecting", what))
	cn.ws.close(websocket.StatusProtocolError, "invalid message")
	return ending{code: CodeBadServerMessage, reason: codeReasons[CodeBadServerMessage], reconnect: true}
}

func (cn *conn) handle(m *serverMessage) {
	if m.ID != 0 {
		if h := cn.take(m.ID); h != nil {
			h(&m.Reply, nil)
		}
		return
	}
	switch {
	case m.Ping != nil:
		cn.send([]*protocol.Command{{Pong: &protocol.PongRequest{}}}, nil)
	case m.Disconnect != nil:
		// The close frame follows with the same code; keep reading so that
		// the close handshake completes.
		cn.disconnect = m.Disconnect
	case m.Error != nil:
		// An error without an id answers a command that had none: only
		// pong, so the server did not accept the heartbeat.
		cn.c.emitError(replyError(m.Error))
	case m.Channel != "":
		cn.c.handlePush(&m.Push)
	}
	// Anything else is newer than this client: ignoring it is the
	// protocol's rule.
}

// closeReason prefers the server's own words: its disconnect push, then its
// close frame; a close without a Herald code means a lost transport.
func (cn *conn) closeReason(err error) ending {
	if d := cn.disconnect; d != nil {
		// reconnect_in: a draining server says when to come back, which
		// is honoured like Retry-After, up to the longest backoff.
		in := min(time.Duration(d.ReconnectIn)*time.Millisecond, cn.c.opts.MaxReconnectDelay)
		return ending{code: uint32(d.Code), reason: d.Reason, reconnect: d.Reconnect, retryAfter: in}
	}
	code := websocket.CloseStatus(err)
	if code == -1 || code == websocket.StatusAbnormalClosure || code == websocket.StatusNoStatusRcvd {
		return ending{code: CodeTransportClosed, reason: codeReasons[CodeTransportClosed] + ": " + err.Error(), reconnect: true}
	}
	var ce websocket.CloseError
	errors.As(err, &ce)
	return ending{code: uint32(code), reason: ce.Reason, reconnect: reconnectAfter(uint16(code))}
}

// reconnectAfter applies the catalog's reconnect flag, and for a code the
// catalog does not know (a newer server's), the protocol's rule: 4500 and
// above and 1003 mean do not reconnect.
func reconnectAfter(code uint16) bool {
	if d, ok := herald.DisconnectByCode(code); ok {
		return d.Reconnect
	}
	return code < 4500 && code != 1003
}

// goTask runs fn on a goroutine of the connection: shutdown cancels its
// context and waits for it, so fn must return once ctx ends. It does
// nothing once shutdown has begun.
func (cn *conn) goTask(fn func(ctx context.Context)) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.stopping {
		return
	}
	cn.tasks.Add(1)
	go func() {
		defer cn.tasks.Done()
		fn(cn.ctx)
	}()
}

// shutdown closes the connection (with a close handshake when the client
// is the one ending it) and waits for the reader, the writer and the
// tasks. It must not be called with the client's mu held, which tasks take.
func (cn *conn) shutdown(code websocket.StatusCode) {
	cn.mu.Lock()
	cn.stopping = true
	cn.mu.Unlock()
	cn.cancel()
	close(cn.stop)
	cn.ws.close(code, "")
	cn.wg.Wait()
	cn.tasks.Wait()
}

func replyError(e *protocol.Error) *Error {
	return &Error{Code: e.Code, Message: e.Message, Temporary: e.Temporary}
}

func (cn *conn) isEnded() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.ended
}
