package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/heraldrt/herald/protocol"
)

var subCommand = &command{
	name:    "sub",
	summary: "subscribe to channels and print publications as JSON lines",
	run:     runSub,
}

const subUsage = `Usage: herald sub [flags] URL CHANNEL...

Connects to the Herald server at URL, subscribes to each CHANNEL and prints
every publication as one JSON line on stdout, until interrupted:

  {"channel":"news","offset":6,"epoch":"ab","data":{"title":"hi"}}

offset and epoch are left out for channels that keep no history. Status
messages go to stderr. URL is the server's base URL (http, https, ws or
wss, with any path prefix) or the full .../connection/websocket endpoint.
Flags go before URL.

With --since OFFSET, sub first prints the publications after OFFSET that
each channel still keeps in its history, in any epoch (0: all it keeps),
then the live ones, with no gap and no duplicate between them. For each
channel it says on stderr how many it recovered and whether that is all
of them:

  herald sub: recovered 3 publications of news (recovered: true)

"recovered: false" means that some were lost: trimmed or expired from the
history, more than the server's client.recovery_max, or OFFSET is beyond
the channel's newest publication. Channels without history recover
nothing.

Examples:
  herald sub http://127.0.0.1:8000 news sports | jq -c .data
  herald sub --since 0 http://127.0.0.1:8000 news

Exit status: 0 when interrupted, 1 when connecting or subscribing fails or
the server ends the connection, 2 on bad usage.
`

func runSub(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCLIFlags("sub")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed to connect and subscribe")
	token := fs.String("token", "", "connection token, for a server that does not allow anonymous connections")
	since := fs.Uint64("since", 0, "first print the publications after `OFFSET` still in each channel's history (0: all of them)")
	if code, ok := parseCLIFlags(fs, args, subUsage, stdout, stderr); !ok {
		return code
	}
	// --since 0 asks for everything, so only its presence says whether to
	// recover.
	recovering := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "since" {
			recovering = true
		}
	})
	if fs.NArg() < 2 {
		return usageError(stderr, fs, subUsage, "need a URL and at least one channel")
	}
	wsURL, err := websocketURL(fs.Arg(0))
	if err != nil {
		return usageError(stderr, fs, subUsage, err.Error())
	}
	channels := fs.Args()[1:]

	fail := func(err error) int {
		// An interrupt during setup is the person changing their mind,
		// not a failure.
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintf(stderr, "herald sub: %v\n", err)
		return 1
	}

	setupCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := dialClient(setupCtx, wsURL, pubPrinter(stdout))
	if err != nil {
		return fail(fmt.Errorf("%s: %w", wsURL, err))
	}
	defer c.close()
	if _, err := c.connect(setupCtx, *token); err != nil {
		return fail(describeCallError(err, "connect", *timeout))
	}

	cmds := make([]*protocol.Command, len(channels))
	for i, ch := range channels {
		// An empty epoch recovers from the offset in whatever epoch the
		// channel is in.
		cmds[i] = &protocol.Command{Subscribe: &protocol.SubscribeRequest{Channel: ch, Recover: recovering, Offset: *since}}
	}
	replies, err := c.call(setupCtx, cmds...)
	if err != nil {
		return fail(describeCallError(err, "subscribe", *timeout))
	}
	failed := false
	for i, r := range replies {
		if r.Error != nil {
			fmt.Fprintf(stderr, "herald sub: subscribe %s: %v\n", channels[i], &replyError{Code: r.Error.Code, Message: r.Error.Message})
			failed = true
			continue
		}
		res := r.Subscribe
		if res == nil {
			res = &protocol.SubscribeResult{}
		}
		if res.Epoch != "" {
			fmt.Fprintf(stderr, "herald sub: subscribed to %s at offset %d, epoch %s\n", channels[i], res.Offset, res.Epoch)
		} else {
			fmt.Fprintf(stderr, "herald sub: subscribed to %s\n", channels[i])
		}
		if recovering {
			// The publications themselves were printed as the reply
			// arrived (see cliClient.call).
			fmt.Fprintf(stderr, "herald sub: recovered %d publications of %s (recovered: %t)\n", len(res.Publications), channels[i], res.Recovered)
		}
	}
	if failed {
		return 1
	}
	cancel()

	if err := c.wait(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// pubLine is one line of sub's output: the publication with its channel,
// flat, so that `jq .data` or a grep on the channel works without knowing
// the wire protocol.
type pubLine struct {
	Channel string          `json:"channel"`
	Offset  uint64          `json:"offset,omitempty"`
	Epoch   string          `json:"epoch,omitempty"`
	Data    json.RawMessage `json:"data"`
}

// pubPrinter writes each publication as one line with one Write, so that
// a reader on a pipe sees whole lines as soon as they arrive.
func pubPrinter(w io.Writer) func(string, *protocol.PubPush) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Data is printed as the publisher sent it, not with <, > and &
	// escaped for HTML.
	enc.SetEscapeHTML(false)
	return func(channel string, pub *protocol.PubPush) error {
		buf.Reset()
		if err := enc.Encode(pubLine{Channel: channel, Offset: pub.Offset, Epoch: pub.Epoch, Data: pub.Data}); err != nil {
			return fmt.Errorf("protocol error: publication in %s: %w", channel, err)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if f, ok := w.(interface{ Flush() error }); ok {
			if err := f.Flush(); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
		return nil
	}
}
