package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// What the load tool (bench_conn.go) needs of the wire protocol over its
// own coder/websocket connections: the CLI's other tools run on the Go
// client (cli_session.go), but a load test cannot pay for its event
// goroutine and full decode on every delivery.

const (
	// cliReadLimit bounds one incoming frame. Publications are bounded by
	// the server's API body limit (1 MiB by default), and a frame may batch
	// several; the library's 32 KiB default would cut off normal traffic.
	cliReadLimit = 16 << 20
	// cliWriteTimeout bounds each write, so a stuck server cannot hang
	// the load tool's connections.
	cliWriteTimeout = 10 * time.Second
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
