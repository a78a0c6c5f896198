package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/protocol"
)

// The CLI's client is built on coder/websocket, not on the server's
// WebSocket library, so that sub and check also prove that a second,
// independent implementation interoperates with the server.

const (
	// cliReadLimit bounds one incoming frame. Publications are bounded by
	// the server's API body limit (1 MiB by default), and a frame may batch
	// several; the library's 32 KiB default would cut off normal traffic.
	cliReadLimit = 16 << 20
	// cliWriteTimeout bounds each write, so a stuck server cannot hang a
	// tool that is only answering a ping.
	cliWriteTimeout = 10 * time.Second
	// cliPingGrace is how late the server's ping may be before the
	// connection counts as dead: network jitter plus a busy server.
	cliPingGrace = 10 * time.Second
)

// serverMessage is anything the server sends: a reply (with an id) or a
// push (without). Reply and Push share no JSON keys, so one decode fits both.
type serverMessage struct {
	protocol.Reply
	protocol.Push
}

// disconnectError is the server ending the connection on purpose, with a
// code from the catalog.
type disconnectError struct {
	Code      uint16
	Reason    string
	Reconnect bool
}

func (e *disconnectError) Error() string {
	s := fmt.Sprintf("disconnected by the server: %d %s", e.Code, e.Reason)
	if e.Reconnect {
		s += " (the client may reconnect)"
	}
	return s
}

// replyError is a command's error reply.
type replyError struct {
	Code    uint32
	Message string
}

func (e *replyError) Error() string {
	reason := herald.ErrorCode(e.Code).Reason()
	// Reason falls back to "internal server error" for a code it does not
	// know, which would misname a code from a newer server.
	if herald.ErrorCode(e.Code).Name() == "internal" && e.Code != uint32(herald.ErrInternal) {
		reason = "error"
	}
	if e.Message == "" || e.Message == reason {
		return fmt.Sprintf("%s (%d)", reason, e.Code)
	}
	return fmt.Sprintf("%s (%d): %s", reason, e.Code, e.Message)
}

// cliClient is a minimal protocol v1 client: one connection, commands sent
// in batches and matched to their replies, publications handed to onPub,
// server pings answered. It does not reconnect; the tools report instead.
//
// One reader goroutine owns reading; close stops it and waits for it.
type cliClient struct {
	conn cliConn
	// onPub receives each publication in arrival order, on the goroutine
	// that calls call or wait.
	onPub func(channel string, pub *protocol.PubPush) error
	// onJoinLeave, when set, receives join (join true) and leave pushes in
	// the same order; unset, they are ignored. Set it before the first call.
	onJoinLeave func(channel string, join bool, who *protocol.ClientInfo) error

	msgs   chan *serverMessage // unbuffered: done closes only after every message was taken
	done   chan struct{}       // closed when the reader exits
	stop   chan struct{}       // closed by close, to release a reader blocked on msgs
	err    error               // why the reader exited; read only after done is closed
	nextID uint32              // used only by the goroutine that calls call

	closeOnce sync.Once
}

// cliConn is what the client runs over: a *websocket.Conn, or an HTTP
// fallback stream (cliStream).
type cliConn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

// cliStream is the Go client's HTTP fallback stream as a cliConn: text
// frames only, and no close handshake (the server sees the request end).
type cliStream struct{ s *client.Stream }

func (c cliStream) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	frame, err := c.s.Read(ctx)
	return websocket.MessageText, frame, err
}

func (c cliStream) Write(ctx context.Context, _ websocket.MessageType, p []byte) error {
	return c.s.Write(ctx, p)
}

func (c cliStream) Close(websocket.StatusCode, string) error { c.s.Close(); return nil }
func (c cliStream) CloseNow() error                          { c.s.Close(); return nil }

// dialClient opens the WebSocket. ctx bounds only the handshake.
func dialClient(ctx context.Context, wsURL string, onPub func(string, *protocol.PubPush) error) (*cliClient, error) {
	return dialClientOver(ctx, wsURL, client.TransportWebSocket, onPub)
}

// dialClientOver opens transport (websocket, sse or http_stream) to the
// server whose WebSocket endpoint is wsURL. ctx bounds only the opening.
func dialClientOver(ctx context.Context, wsURL, transport string, onPub func(string, *protocol.PubPush) error) (*cliClient, error) {
	var conn cliConn
	if transport == client.TransportWebSocket {
		ws, resp, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			return nil, describeDialError(ctx, err, resp)
		}
		ws.SetReadLimit(cliReadLimit)
		conn = ws
	} else {
		u, err := client.StreamURL(wsURL, transport)
		if err != nil {
			return nil, err
		}
		st, err := client.DialStream(ctx, nil, nil, u, transport)
		if err != nil {
			return nil, err
		}
		conn = cliStream{st}
	}
	if onPub == nil {
		onPub = func(string, *protocol.PubPush) error { return nil }
	}
	c := &cliClient{
		conn:  conn,
		onPub: onPub,
		msgs:  make(chan *serverMessage),
		done:  make(chan struct{}),
		stop:  make(chan struct{}),
	}
	go c.read()
	return c, nil
}

// describeDialError turns the library's nested error into the part a
// person acts on: refused, timed out, or the HTTP status that refused the
// upgrade.
func describeDialError(ctx context.Context, err error, resp *http.Response) error {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		msg := fmt.Sprintf("WebSocket handshake refused: HTTP %s", resp.Status)
		if resp.Body != nil {
			// The library leaves at most 1 KiB of the body readable.
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			if s := strings.TrimSpace(string(b)); s != "" && !strings.ContainsAny(s, "<\x00") {
				msg += ": " + s
			}
		}
		return errors.New(msg)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("timed out opening the WebSocket: %w", ctx.Err())
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr
	}
	return err
}

// connect opens the session; the reader starts watching the server's
// pings once the reply names their interval.
func (c *cliClient) connect(ctx context.Context, token string) (*protocol.ConnectResult, error) {
	replies, err := c.call(ctx, &protocol.Command{Connect: &protocol.ConnectRequest{
		Token:   token,
		Name:    "herald-cli",
		Version: version,
	}})
	if err != nil {
		return nil, err
	}
	r := replies[0]
	if r.Error != nil {
		return nil, &replyError{Code: r.Error.Code, Message: r.Error.Message}
	}
	if r.Connect == nil {
		return nil, fmt.Errorf("protocol error: connect reply without a connect result: %s", protocol.EncodeReply(r))
	}
	return r.Connect, nil
}

// call sends cmds in one frame, which exercises the server's batch
// decoding, and returns their replies in the same order. Publications that
// arrive meanwhile go to onPub, and so do those a subscribe reply
// recovered. An error reply is returned as a reply, not as an error: the
// caller knows which command may fail how.
func (c *cliClient) call(ctx context.Context, cmds ...*protocol.Command) ([]*protocol.Reply, error) {
	var frame bytes.Buffer
	pending := make(map[uint32]int, len(cmds))
	for i, cmd := range cmds {
		c.nextID++
		cmd.ID = c.nextID
		pending[cmd.ID] = i
		b, err := json.Marshal(cmd)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", cmd.Name(), err)
		}
		if i > 0 {
			frame.WriteByte('\n')
		}
		frame.Write(b)
	}
	if err := c.write(ctx, frame.Bytes()); err != nil {
		return nil, err
	}
	replies := make([]*protocol.Reply, len(cmds))
	for len(pending) > 0 {
		m, err := c.next(ctx)
		if err != nil {
			return nil, err
		}
		if m.ID == 0 {
			if err := c.handlePush(m); err != nil {
				return nil, err
			}
			continue
		}
		i, ok := pending[m.ID]
		if !ok {
			return nil, fmt.Errorf("protocol error: reply to unknown id %d", m.ID)
		}
		delete(pending, m.ID)
		reply := m.Reply
		replies[i] = &reply
		if sub := cmds[i].Subscribe; sub != nil && reply.Subscribe != nil {
			if err := c.handleRecovered(sub.Channel, reply.Subscribe); err != nil {
				return nil, err
			}
		}
	}
	return replies, nil
}

// handleRecovered hands a subscribe reply's recovered publications to
// onPub as soon as the reply arrives, not when call returns: live
// publications of the channel may come before the replies to the rest of
// the batch, and must come out after the recovered ones.
func (c *cliClient) handleRecovered(channel string, r *protocol.SubscribeResult) error {
	for i := range r.Publications {
		pub := &r.Publications[i]
		// The reply's epoch is its publications' epoch; they may leave it out.
		if pub.Epoch == "" {
			pub.Epoch = r.Epoch
		}
		if err := c.onPub(channel, pub); err != nil {
			return err
		}
	}
	return nil
}

// wait hands publications to onPub until ctx is done (nil error) or the
// connection ends (its reason).
func (c *cliClient) wait(ctx context.Context) error {
	for {
		m, err := c.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if m.ID != 0 {
			return fmt.Errorf("protocol error: unexpected reply with id %d", m.ID)
		}
		if err := c.handlePush(m); err != nil {
			return err
		}
	}
}

func (c *cliClient) handlePush(m *serverMessage) error {
	switch {
	case m.Error != nil:
		// An error without an id answers a command that had none: only
		// pong, so the server rejected the heartbeat.
		return fmt.Errorf("server error: %w", &replyError{Code: m.Error.Code, Message: m.Error.Message})
	case m.Pub != nil:
		return c.onPub(m.Channel, m.Pub)
	case m.Join != nil && c.onJoinLeave != nil:
		return c.onJoinLeave(m.Channel, true, m.Join)
	case m.Leave != nil && c.onJoinLeave != nil:
		return c.onJoinLeave(m.Channel, false, m.Leave)
	}
	// Other pushes are either handled by the reader (ping, disconnect) or
	// newer than this client; ignoring them is the protocol's rule.
	return nil
}

// next returns the next message, or why there is none.
func (c *cliClient) next(ctx context.Context) (*serverMessage, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *cliClient) write(ctx context.Context, frame []byte) error {
	ctx, cancel := context.WithTimeout(ctx, cliWriteTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		// A write fails when the connection is gone; the reader has the
		// better explanation (the disconnect push or the close frame).
		select {
		case <-c.done:
			return c.err
		case <-time.After(100 * time.Millisecond):
		}
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// read is the reader goroutine: it splits frames into messages, answers
// pings itself so that a slow consumer cannot cost the connection, and
// hands everything else to next.
func (c *cliClient) read() {
	defer close(c.done)
	var (
		disconnect *disconnectError
		// pingTimeout is how long to wait for any message before the
		// connection counts as dead; 0 until connect says the interval.
		pingTimeout time.Duration
	)
	for {
		typ, frame, timedOut, err := c.readFrame(pingTimeout)
		if err != nil {
			c.err = readError(err, disconnect, timedOut, pingTimeout)
			return
		}
		if typ != websocket.MessageText {
			c.err = errors.New("protocol error: the server sent a binary frame to a JSON client")
			c.conn.CloseNow()
			return
		}
		for line := range bytes.SplitSeq(frame, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			m := new(serverMessage)
			if err := json.Unmarshal(line, m); err != nil {
				c.err = fmt.Errorf("protocol error: undecodable message %.200q: %v", line, err)
				c.conn.CloseNow()
				return
			}
			switch {
			case m.ID == 0 && m.Ping != nil:
				if err := c.writePong(); err != nil {
					c.err = fmt.Errorf("answer the server's ping: %w", err)
					c.conn.CloseNow()
					return
				}
				continue
			case m.ID == 0 && m.Disconnect != nil:
				// The close frame follows with the same code; keep reading
				// so the close handshake completes.
				disconnect = &disconnectError{Code: m.Disconnect.Code, Reason: m.Disconnect.Reason, Reconnect: m.Disconnect.Reconnect}
				continue
			case m.Connect != nil && m.Connect.Ping > 0:
				// Set here rather than in connect, so that the very next
				// read is already watched.
				pingTimeout = time.Duration(m.Connect.Ping)*time.Second + cliPingGrace
			}
			select {
			case c.msgs <- m:
			case <-c.stop:
				c.err = net.ErrClosed
				return
			}
		}
	}
}

func (c *cliClient) readFrame(timeout time.Duration) (typ websocket.MessageType, frame []byte, timedOut bool, err error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	typ, frame, err = c.conn.Read(ctx)
	return typ, frame, ctx.Err() != nil, err
}

func (c *cliClient) writePong() error {
	ctx, cancel := context.WithTimeout(context.Background(), cliWriteTimeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, []byte(`{"pong":{}}`))
}

// readError says why reading ended, preferring the server's own words.
func readError(err error, disconnect *disconnectError, timedOut bool, pingTimeout time.Duration) error {
	if disconnect != nil {
		return disconnect
	}
	if timedOut {
		return fmt.Errorf("no message or ping from the server in %s: the connection is dead", pingTimeout)
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		reason := ce.Reason
		if reason == "" {
			if d, ok := herald.DisconnectByCode(uint16(ce.Code)); ok {
				reason = d.Reason
			} else {
				reason = "no reason given"
			}
		}
		return &disconnectError{Code: uint16(ce.Code), Reason: reason}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the server closed the connection without a close frame")
	}
	return fmt.Errorf("connection lost: %w", err)
}

// close ends the connection with a close handshake, so the server sees a
// clean goodbye rather than a reset, and waits for the reader to exit.
func (c *cliClient) close() {
	c.closeOnce.Do(func() {
		close(c.stop)
		c.conn.Close(websocket.StatusNormalClosure, "")
		<-c.done
	})
}

// describeCallError names what timed out: "context deadline exceeded"
// does not tell a person which step to look at.
func describeCallError(err error, step string, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no reply within %s", step, timeout)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// apiReplyError is the server API refusing a request with its error body.
type apiReplyError struct {
	Code    uint32
	Status  int
	Message string
}

func (e *apiReplyError) Error() string {
	return fmt.Sprintf("%s (code %d, HTTP %d)%s", e.Message, e.Code, e.Status, apiKeyHint(e.Code))
}

// apiKeyHint says where the right key is when the API refused the one
// given: in development mode it is random unless set, printed at start.
func apiKeyHint(code uint32) string {
	if herald.ErrorCode(code) != herald.ErrUnauthorized {
		return ""
	}
	return ": give the server's api_key with --api-key or HERALD_API_KEY (serve --dev prints it at start: \"herald: API key: ...\")"
}

// apiCall POSTs body as JSON to a server API endpoint and decodes the
// answer into out. A refusal with Herald's error body is an
// *apiReplyError, so that callers can act on its code.
func apiCall(ctx context.Context, endpoint, key string, body, out any, timeout time.Duration) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, &buf)
	if err != nil {
		return fmt.Errorf("POST %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "apikey "+key)
	req.Header.Set("User-Agent", "herald-cli/"+version)
	client := &http.Client{
		// As in pub: a redirect would resend the key or turn POST into GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("POST %s: no response within %s", endpoint, timeout)
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, cliReadLimit))
	if err != nil {
		return fmt.Errorf("POST %s: read response: %w", endpoint, err)
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("POST %s: HTTP %s with a reply that does not decode: %v: %.200q", endpoint, resp.Status, err, b)
		}
		return nil
	}
	var e apiError
	if json.Unmarshal(b, &e) == nil && e.Error != nil {
		if e.Error.Message == "" {
			e.Error.Message = herald.ErrorCode(e.Error.Code).Reason()
		}
		return &apiReplyError{Code: e.Error.Code, Status: resp.StatusCode, Message: e.Error.Message}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		return fmt.Errorf("POST %s: HTTP %s redirects to %s: use that URL", endpoint, resp.Status, loc)
	}
	msg := fmt.Sprintf("POST %s: HTTP %s", endpoint, resp.Status)
	if s := strings.TrimSpace(string(b)); s != "" && !strings.HasPrefix(s, "<") {
		msg += ": " + truncateText(s, 200)
	}
	return errors.New(msg)
}
