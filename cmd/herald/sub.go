package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/protocol"
)

var subCommand = &command{
	name:    "sub",
	summary: "subscribe to channels and print publications as JSON lines",
	run:     runSub,
	flags:   func() *flag.FlagSet { fs, _ := subFlags(); return fs },
}

const subUsage = `Usage: herald sub [flags] URL CHANNEL...

Connects to the Herald server at URL, subscribes to each CHANNEL and prints
every publication as one JSON line on stdout, until interrupted:

  {"channel":"news","offset":6,"epoch":"ab","data":{"title":"hi"}}

offset and epoch are left out for channels that keep no history. Status
messages go to stderr. URL is the server's base URL (http, https, ws or
wss, with any path prefix) or the full .../connection/websocket endpoint.
Flags may come before or after the arguments.

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

With --presence, sub also prints on stdout who joins and leaves, in
channels whose namespace sets join_leave (sub's own subscription
included), and on stderr who is subscribed when it subscribes, in
channels whose namespace sets presence:

  {"channel":"news","join":{"client":"3b1f...","user":"42"}}
  {"channel":"news","leave":{"client":"3b1f...","user":"42"}}

sub reconnects as an application does (it runs on Herald's Go client):
when the connection is lost or the server restarts, it says why on
stderr, reconnects with backoff (at most 5s apart) and subscribes again,
recovering what it missed where the channel keeps history, and says
whether it got all of it:

  herald sub: connection lost (4000 server shutting down); reconnecting
  herald sub: reconnect failed: dial tcp 127.0.0.1:8000: connect: connection refused; retrying
  herald sub: reconnected after 1.4s as client 9f2c...
  herald sub: resubscribed to news at offset 9, epoch ab
  herald sub: recovered 4 publications of news (recovered: true)

"recovered: false" after a reconnect means that publications made while
it was away are lost (a server with the memory broker loses its history
when it restarts); a channel without history says so. A publication that
arrives after a hole in the offsets is reported as a gap.

With --json, the status messages on stderr are JSON lines too, with an
"event" of subscribed, recovered, presence, disconnected,
reconnect_failed, connected, gap, note or error:

  {"channel":"news","epoch":"ab","event":"subscribed","offset":5}

Examples:
  herald sub http://127.0.0.1:8000 news sports | jq -c .data
  herald sub --since 0 http://127.0.0.1:8000 news
  herald sub --presence --json http://127.0.0.1:8000 chat:lobby

Exit status: 0 when interrupted, 1 when the first connect or a subscribe
fails or the server ends the connection with a code that forbids
reconnecting (4503 from the API's disconnect, say), 2 on bad usage.
`

// subOptions are sub's flags, parsed.
type subOptions struct {
	timeout   time.Duration
	token     string
	since     uint64
	presence  bool
	json      bool
	transport string
}

func subFlags() (*flag.FlagSet, *subOptions) {
	o := new(subOptions)
	fs := newCLIFlags("sub")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time allowed to connect and subscribe")
	fs.StringVar(&o.token, "token", "", "connection `TOKEN`, for a server that does not allow anonymous connections")
	fs.Uint64Var(&o.since, "since", 0, "first print the publications after `OFFSET` still in each channel's history (0: all of them)")
	fs.BoolVar(&o.presence, "presence", false, "also print joins and leaves, and who is subscribed at the start (on stderr)")
	fs.BoolVar(&o.json, "json", false, "print status messages on stderr as JSON lines too")
	transportFlag(fs, &o.transport)
	return fs, o
}

func runSub(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := subFlags()
	if code, ok := parseCLIFlags(fs, args, subUsage, stdout, stderr); !ok {
		return code
	}
	// --since 0 asks for everything, so only its presence says whether to
	// recover.
	recovering := flagSet(fs, "since")
	if fs.NArg() < 2 {
		return usageError(stderr, fs, "need a URL and at least one channel")
	}
	wsURL, err := websocketURL(fs.Arg(0))
	if err != nil {
		return usageError(stderr, fs, err.Error())
	}
	channels := fs.Args()[1:]
	if msg := checkChannels(channels); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if msg := emptyToken(fs, o.token); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if msg := checkTransport(o.transport); msg != "" {
		return usageError(stderr, fs, msg)
	}
	rep := &reporter{w: stderr, name: "herald sub", json: o.json}

	s := newCLISession(sessionOptions{wsURL: wsURL, transport: o.transport, token: o.token, timeout: o.timeout, reconnect: true}, rep)
	defer s.close()
	setupCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := s.connect(setupCtx, o.timeout); err != nil {
		return rep.fail(ctx, fmt.Errorf("%s: %w", wsURL, withTokenHint(describeCallError(err, "connect", o.timeout), o.token)))
	}

	printPub := pubPrinter(stdout)
	printJoinLeave := joinLeavePrinter(stdout)
	specs := make([]subSpec, len(channels))
	for i, ch := range channels {
		sp := subSpec{channel: ch}
		sp.opts.OnPublication = func(p client.Publication) { s.check(printPub(ch, pubPush(p))) }
		if recovering {
			// An empty epoch recovers from the offset in whatever epoch
			// the channel is in.
			sp.opts.Since = &client.Position{Offset: o.since}
		}
		if o.presence {
			sp.opts.OnJoin = func(ci client.ClientInfo) { s.check(printJoinLeave(ch, true, clientInfoPush(ci))) }
			sp.opts.OnLeave = func(ci client.ClientInfo) { s.check(printJoinLeave(ch, false, clientInfoPush(ci))) }
		}
		specs[i] = sp
	}
	refused, err := s.subscribeAll(setupCtx, specs, false)
	if err != nil {
		return rep.fail(ctx, describeCallError(err, "subscribe", o.timeout))
	}
	if refused != nil {
		return 1
	}
	if o.presence {
		if err := reportPresence(setupCtx, s.c, channels, rep); err != nil {
			return rep.fail(ctx, describeCallError(err, "presence", o.timeout))
		}
	}
	cancel()

	if err := s.wait(ctx); err != nil {
		return rep.fail(ctx, err)
	}
	return 0
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// reportPresence asks who is subscribed to each channel and reports it.
// A channel without presence is a note, not a failure: joins and leaves
// may still be on there.
func reportPresence(ctx context.Context, c *client.Client, channels []string, rep *reporter) error {
	for _, ch := range channels {
		list, err := c.Presence(ctx, ch)
		var e *client.Error
		switch {
		case errors.As(err, &e):
			msg := describeReply(e)
			rep.report(fmt.Sprintf("no presence list for %s: %v", ch, msg),
				map[string]any{"event": "note", "channel": ch, "code": e.Code, "message": "no presence list: " + msg.Error()})
			continue
		case err != nil:
			return err
		}
		who := make(map[string]protocol.ClientInfo, len(list))
		for id, ci := range list {
			who[id] = *clientInfoPush(ci)
		}
		rep.report(fmt.Sprintf("present in %s: %s", ch, describePresence(who)),
			map[string]any{"event": "presence", "channel": ch, "presence": who})
	}
	return nil
}

// describePresence lists clients in a stable order, with their user when
// they have one: "2 clients: 3b1f (user 42), 9f2c".
func describePresence(who map[string]protocol.ClientInfo) string {
	ids := make([]string, 0, len(who))
	for id := range who {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id
		if u := who[id].User; u != "" {
			parts[i] += " (user " + u + ")"
		}
	}
	noun := "clients"
	if len(ids) == 1 {
		noun = "client"
	}
	if len(ids) == 0 {
		return "no clients"
	}
	return fmt.Sprintf("%d %s: %s", len(ids), noun, strings.Join(parts, ", "))
}

// reporter writes a tool's status messages: "herald sub: ..." lines for
// people, or with --json one JSON object per line, for programs.
type reporter struct {
	w    io.Writer
	name string // "herald sub"
	json bool
	mu   sync.Mutex // reports come from the tool and from its client's events
}

// report writes text for people or fields for programs. fields has an
// "event" naming what happened.
func (r *reporter) report(text string, fields map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.json {
		fmt.Fprintf(r.w, "%s: %s\n", r.name, text)
		return
	}
	writeJSONLine(r.w, fields)
}

// fail reports why the tool stops and returns its exit status. An
// interrupt during setup is the person changing their mind, not a failure.
func (r *reporter) fail(ctx context.Context, err error) int {
	if ctx.Err() != nil {
		return 0
	}
	fields := map[string]any{"event": "error", "message": err.Error()}
	var de *client.DisconnectError
	if errors.As(err, &de) {
		fields["code"] = de.Code
		fields["reconnect"] = false
	}
	var ce *client.ConnectError
	if errors.As(err, &ce) {
		fields["code"] = ce.Code
	}
	var re *replyError
	if errors.As(err, &re) {
		fields["code"] = re.Code
	}
	fields["message"] = clientText(err)
	r.report(clientText(err), fields)
	return 1
}

// writeJSONLine writes v as one JSON line with one Write, without the
// HTML escaping that would mangle data, and flushes w if it buffers.
func writeJSONLine(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode output: %w", err)
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
	return func(channel string, pub *protocol.PubPush) error {
		// Data is printed as the publisher sent it, not with <, > and &
		// escaped for HTML.
		if err := writeJSONLine(w, pubLine{Channel: channel, Offset: pub.Offset, Epoch: pub.Epoch, Data: pub.Data}); err != nil {
			return fmt.Errorf("publication in %s: %w", channel, err)
		}
		return nil
	}
}

// joinLeaveLine is one line of sub --presence's output for a join or a
// leave, shaped like the push so that `jq .join` works.
type joinLeaveLine struct {
	Channel string               `json:"channel"`
	Join    *protocol.ClientInfo `json:"join,omitempty"`
	Leave   *protocol.ClientInfo `json:"leave,omitempty"`
}

func joinLeavePrinter(w io.Writer) func(string, bool, *protocol.ClientInfo) error {
	return func(channel string, join bool, who *protocol.ClientInfo) error {
		line := joinLeaveLine{Channel: channel, Leave: who}
		if join {
			line = joinLeaveLine{Channel: channel, Join: who}
		}
		return writeJSONLine(w, line)
	}
}
