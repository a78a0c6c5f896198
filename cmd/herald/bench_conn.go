package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// benchConn is one subscriber. It does not use cliClient: a delivery costs
// cliClient a full JSON decode and a hand-over between two goroutines,
// and bench shares the machine with the server it measures, so every cycle
// it spends is taken from the server. A benchConn has one goroutine, reads
// into a reused buffer and finds the publication's send time in the bytes.
type benchConn struct {
	conn  *websocket.Conn
	stats *benchStats
	// closing is set before the run closes the connection, so that the
	// close is not counted as a disconnect.
	closing atomic.Bool
	buf     bytes.Buffer
}

// dialBench opens the connection and sends connect (with cfg.token) and
// subscribe, one after the other, each measured. cfg.timeout bounds each
// step.
func dialBench(ctx context.Context, cfg benchConfig, channel string, stats *benchStats) (*benchConn, error) {
	timeout := cfg.timeout
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, cfg.wsURL, &websocket.DialOptions{Subprotocols: []string{"herald.json"}, HTTPClient: cfg.sources.client()})
	if err != nil {
		return nil, &benchStepError{key: "connect_failed", err: describeDialError(dctx, err, resp)}
	}
	conn.SetReadLimit(cliReadLimit)
	c := &benchConn{conn: conn, stats: stats}
	connect, _ := json.Marshal(&protocol.Command{ID: 1, Connect: &protocol.ConnectRequest{Name: "herald-bench", Version: version, Token: cfg.token}})
	if err := c.call(dctx, string(connect), "connect"); err != nil {
		conn.CloseNow()
		return nil, err
	}
	stats.connect.record(time.Since(start))

	start = time.Now()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.call(sctx, `{"id":2,"subscribe":{"channel":"`+channel+`"}}`, "subscribe"); err != nil {
		conn.CloseNow()
		return nil, err
	}
	stats.subscribe.record(time.Since(start))
	return c, nil
}

// benchStepError is a failure to connect or subscribe, with the key it is
// counted under.
type benchStepError struct {
	key string
	err error
}

func (e *benchStepError) Error() string { return e.err.Error() }
func (e *benchStepError) Unwrap() error { return e.err }

// call sends one command and waits for its reply. Pushes that come first
// (join pushes in a channel with join_leave) are skipped; no publication
// can come before every connection has subscribed.
func (c *benchConn) call(ctx context.Context, cmd, step string) error {
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(cmd)); err != nil {
		return &benchStepError{key: step + "_failed", err: fmt.Errorf("%s: %w", step, err)}
	}
	for {
		_, frame, err := c.conn.Read(ctx)
		if err != nil {
			key := step + "_failed"
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				key = fmt.Sprintf("disconnect_%d", ce.Code)
				err = readError(err, nil, false, 0)
			}
			if ctx.Err() != nil {
				err = fmt.Errorf("no reply: %w", ctx.Err())
			}
			return &benchStepError{key: key, err: fmt.Errorf("%s: %w", step, err)}
		}
		for line := range bytes.SplitSeq(frame, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if !bytes.HasPrefix(line, []byte(`{"id":`)) {
				continue
			}
			var r protocol.Reply
			if err := json.Unmarshal(line, &r); err != nil {
				return &benchStepError{key: step + "_failed", err: fmt.Errorf("%s: undecodable reply %.200q: %v", step, line, err)}
			}
			if r.Error != nil {
				e := &replyError{Code: r.Error.Code, Message: r.Error.Message}
				return &benchStepError{key: fmt.Sprintf("%s_error_%d", step, r.Error.Code), err: fmt.Errorf("%s: %w", step, e)}
			}
			return nil
		}
	}
}

// read counts and times every publication until the connection ends, and
// answers the server's pings.
func (c *benchConn) read() {
	for {
		_, r, err := c.conn.Reader(context.Background())
		if err == nil {
			c.buf.Reset()
			_, err = c.buf.ReadFrom(r)
		}
		if err != nil {
			c.ended(err)
			return
		}
		now := time.Now()
		for line := range bytes.SplitSeq(c.buf.Bytes(), []byte("\n")) {
			c.handle(line, now)
		}
		// A batch of coalesced publications can grow the buffer; do not
		// keep that for the connection's life.
		if c.buf.Cap() > 64<<10 {
			c.buf = bytes.Buffer{}
		}
	}
}

var (
	benchPubPrefix = []byte(`"pub":{`)
	benchTKey      = []byte(`"data":{"t":`)
	benchPing      = []byte(`{"ping":{}}`)
)

func (c *benchConn) handle(line []byte, now time.Time) {
	line = bytes.TrimSpace(line)
	switch {
	case len(line) == 0:
	case bytes.Contains(line, benchPubPrefix):
		t, ok := benchSentAt(line)
		if !ok {
			c.stats.fail("delivery_undecodable", fmt.Sprintf("a publication without a send time: %.200s", line))
			return
		}
		c.stats.latency.record(now.Sub(time.Unix(0, t)))
		c.stats.deliveries.Add(1)
		c.stats.lastDelivery.Store(now.UnixNano())
	case bytes.Equal(line, benchPing):
		ctx, cancel := context.WithTimeout(context.Background(), cliWriteTimeout)
		err := c.conn.Write(ctx, websocket.MessageText, []byte(`{"pong":{}}`))
		cancel()
		if err != nil && !c.closing.Load() {
			c.stats.fail("pong_failed", err.Error())
		}
	case bytes.HasPrefix(line, []byte(`{"error":`)):
		var m serverMessage
		if json.Unmarshal(line, &m) == nil && m.Error != nil {
			c.stats.fail(fmt.Sprintf("push_error_%d", m.Error.Code), (&replyError{Code: m.Error.Code, Message: m.Error.Message}).Error())
		}
	}
	// Anything else (join, leave, the disconnect push before its close
	// frame) needs no action: the close code is counted when it comes.
}

// benchSentAt finds t in a pub push whose data bench published,
// {"t":N,...}, without decoding the rest; the fallback decodes the line,
// for a server that would reorder or respace the data.
func benchSentAt(line []byte) (int64, bool) {
	if i := bytes.Index(line, benchTKey); i >= 0 {
		rest := line[i+len(benchTKey):]
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n > 0 && n < len(rest) && (rest[n] == ',' || rest[n] == '}') {
			if t, err := strconv.ParseInt(string(rest[:n]), 10, 64); err == nil {
				return t, true
			}
		}
	}
	var m struct {
		Pub *struct {
			Data struct {
				T *int64 `json:"t"`
			} `json:"data"`
		} `json:"pub"`
	}
	if json.Unmarshal(line, &m) != nil || m.Pub == nil || m.Pub.Data.T == nil {
		return 0, false
	}
	return *m.Pub.Data.T, true
}

// ended counts why the connection ended, unless the run closed it.
func (c *benchConn) ended(err error) {
	c.stats.open.Add(-1)
	if c.closing.Load() {
		return
	}
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		reason := ce.Reason
		if d, ok := herald.DisconnectByCode(uint16(ce.Code)); ok && reason == "" {
			reason = d.Reason
		}
		c.stats.fail(fmt.Sprintf("disconnect_%d", ce.Code), fmt.Sprintf("closed by the server: %d %s", ce.Code, reason))
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		c.stats.fail("connection_lost", "the server closed the connection without a close frame")
	default:
		c.stats.fail("connection_lost", err.Error())
	}
}

// close ends the connection with a close handshake, so that the server
// sees a goodbye rather than a reset; the reader exits on its own.
func (c *benchConn) close() {
	c.closing.Store(true)
	c.conn.Close(websocket.StatusNormalClosure, "")
}
