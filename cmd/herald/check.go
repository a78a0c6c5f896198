package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/heraldrt/herald/protocol"
)

var checkCommand = &command{
	name:    "check",
	summary: "check that a server accepts a connection and answers a ping",
	run:     runCheck,
}

const checkUsage = `Usage: herald check [flags] URL

Opens a WebSocket to the Herald server at URL, sends connect, does one ping
round trip and prints how long each took:

  ok: ws://127.0.0.1:8000/connection/websocket connect 1.2ms, ping 0.3ms

Any failure (refused, timeout, handshake error, error reply, disconnect)
prints the reason on stderr. Meant for load balancer health checks and
cron. URL is the server's base URL or the full WebSocket endpoint.

Example:
  herald check --timeout 2s https://herald.example.com || alert

Exit status: 0 when healthy, 1 when not, 2 on bad usage.
`

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCLIFlags("check")
	timeout := fs.Duration("timeout", 5*time.Second, "time allowed for the whole check")
	token := fs.String("token", "", "connection token, for a server that does not allow anonymous connections")
	if code, ok := parseCLIFlags(fs, args, checkUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, fs, checkUsage, "need exactly one URL")
	}
	wsURL, err := websocketURL(fs.Arg(0))
	if err != nil {
		return usageError(stderr, fs, checkUsage, err.Error())
	}

	connectTime, pingTime, err := check(ctx, wsURL, *token, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "herald check: %s: %v\n", wsURL, err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s connect %s, ping %s\n", wsURL, millis(connectTime), millis(pingTime))
	return 0
}

// check measures connect from the first byte dialled to the connect reply,
// since that is what a client waits for before it can do anything.
func check(ctx context.Context, wsURL, token string, timeout time.Duration) (connectTime, pingTime time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	c, err := dialClient(ctx, wsURL, nil)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	if _, err := c.connect(ctx, token); err != nil {
		return 0, 0, describeCallError(err, "connect", timeout)
	}
	connectTime = time.Since(start)

	start = time.Now()
	replies, err := c.call(ctx, &protocol.Command{Ping: &protocol.PingRequest{}})
	if err != nil {
		return 0, 0, describeCallError(err, "ping", timeout)
	}
	pingTime = time.Since(start)
	switch r := replies[0]; {
	case r.Error != nil:
		return 0, 0, fmt.Errorf("ping: %w", &replyError{Code: r.Error.Code, Message: r.Error.Message})
	case r.Pong == nil:
		return 0, 0, errors.New("ping: protocol error: the reply carries no pong")
	}
	return connectTime, pingTime, nil
}

// millis prints a duration the way people compare latencies: in
// milliseconds whatever its size, with a second decimal below 0.1ms so
// that a loopback ping does not read as 0.0ms.
func millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if d < 100*time.Microsecond {
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}
