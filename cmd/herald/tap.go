package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/protocol"
)

var tapCommand = &command{
	name:    "tap",
	summary: "watch publications, joins and leaves in channels, for debugging",
	run:     runTap,
	flags:   func() *flag.FlagSet { fs, _ := tapFlags(); return fs },
}

const tapUsage = `Usage: herald tap --api URL [--api-key KEY] [flags] CHANNEL...

Watches every publication, join and leave in each CHANNEL of the Herald
server at URL, one line each, prefixed by the time and the channel:

  15:04:05.000 news presence clients=3 users=1
  15:04:05.000 news history #11 {"text":"earlier"}
  15:04:05.120 news pub #12 {"text":"hi"}
  15:04:06.301 news join client=3b1f... user=42
  15:04:09.877 news leave client=3b1f... user=42

At the start it prints each channel's presence_stats from the server API
(where the namespace has presence) and, with --history N, the last N
publications the channel keeps (oldest first), then live ones with no gap
and no duplicate between them. Publications without an offset (channels
without history, ephemeral ones) print no #N. Joins and leaves appear only
in namespaces with join_leave.

The server API cannot stream, so tap watches through a WebSocket
connection of its own, subscribed to the channels like any client: it
counts in presence, other subscribers see it join and leave (tap leaves
out its own), and the channels' namespaces must let a client subscribe.
The API key comes from --api-key or HERALD_API_KEY; the WebSocket goes to
the same URL unless --ws says otherwise.

Channel names are exact: the server has no glob patterns or wildcards
(news:* is refused). List the channels that have subscribers with the
API's channels method.

With --json each line is a JSON object with "time", "channel" and an
"event" of presence_stats, history, pub, join or leave; status messages on
stderr are JSON too, as with sub --json.

Examples:
  HERALD_API_KEY=secret herald tap --api http://127.0.0.1:8000 news chat:lobby
  herald tap --api https://herald.internal --api-key "$KEY" --history 20 --json orders | jq .

Like sub, tap reconnects when the connection is lost and recovers what it
missed where the channel keeps history, saying so on stderr (see herald
sub --help).

Exit status: 0 when interrupted, 1 when the API refuses, the first
connect or a subscribe fails or the server ends the connection with a
code that forbids reconnecting, 2 on bad usage.
`

// tapOptions are tap's flags, parsed.
type tapOptions struct {
	api     string
	key     string
	ws      string
	history int
	json    bool
	timeout time.Duration
	token   string
}

func tapFlags() (*flag.FlagSet, *tapOptions) {
	o := new(tapOptions)
	fs := newCLIFlags("tap")
	fs.StringVar(&o.api, "api", "", "server base `URL`, or its ws:// endpoint URL (required)")
	fs.StringVar(&o.key, "api-key", "", "server API `key` (default $HERALD_API_KEY)")
	aliasFlag(fs, "key", "api-key")
	fs.StringVar(&o.ws, "ws", "", "WebSocket `URL` to watch through, when not the --api URL")
	fs.IntVar(&o.history, "history", 0, "first print the last `N` publications of each channel's history")
	fs.BoolVar(&o.json, "json", false, "print JSON lines, on stdout and stderr")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time allowed for each API request, and to connect and subscribe")
	fs.StringVar(&o.token, "token", "", "connection `TOKEN`, for a server that does not allow anonymous connections")
	return fs, o
}

func runTap(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := tapFlags()
	if code, ok := parseCLIFlags(fs, args, tapUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(stderr, fs, "need at least one channel")
	}
	channels := fs.Args()
	if msg := checkChannels(channels); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if msg := emptyToken(fs, o.token); msg != "" {
		return usageError(stderr, fs, msg)
	}
	for _, ch := range channels {
		if strings.ContainsAny(ch, "*?[") {
			return usageError(stderr, fs, fmt.Sprintf("%q looks like a pattern: the server has no glob patterns, name each channel", ch))
		}
	}
	if o.api == "" {
		return usageError(stderr, fs, "--api URL is required")
	}
	if o.history < 0 {
		return usageError(stderr, fs, "--history must be 0 or more")
	}
	statsURL, err := apiURL(o.api, "/api/presence_stats")
	if err != nil {
		return usageError(stderr, fs, err.Error())
	}
	historyURL, _ := apiURL(o.api, "/api/history")
	if o.ws == "" {
		o.ws = o.api
	}
	wsURL, err := websocketURL(o.ws)
	if err != nil {
		return usageError(stderr, fs, err.Error())
	}
	if o.key == "" {
		o.key = os.Getenv("HERALD_API_KEY")
	}
	if o.key == "" {
		return usageError(stderr, fs, "no API key: pass --api-key or set HERALD_API_KEY")
	}

	rep := &reporter{w: stderr, name: "herald tap", json: o.json}
	out := &tapPrinter{w: stdout, json: o.json}

	for _, ch := range channels {
		var stats protocol.PresenceStatsResult
		err := apiCall(ctx, statsURL, o.key, protocol.PresenceStatsRequest{Channel: ch}, &stats, o.timeout)
		switch {
		case isAPICode(err, herald.ErrNotAvailable):
			rep.report("presence is off in "+ch+": no presence_stats", map[string]any{"event": "note", "channel": ch, "message": "presence is off: no presence_stats"})
		case err != nil:
			return rep.fail(ctx, fmt.Errorf("presence_stats %s: %w", ch, err))
		default:
			if err := out.stats(ch, &stats); err != nil {
				return rep.fail(ctx, err)
			}
		}
	}

	s := newCLISession(sessionOptions{wsURL: wsURL, transport: client.TransportWebSocket, token: o.token, timeout: o.timeout, reconnect: true}, rep)
	defer s.close()
	// tap's own client id changes with every reconnect; joins come after
	// the connect on the same event goroutine.
	s.onConnected = func(e client.ConnectedEvent) { out.self = e.ClientID }
	specs := make([]subSpec, len(channels))
	for i, ch := range channels {
		specs[i] = subSpec{channel: ch, opts: client.SubscriptionOptions{
			OnPublication: func(p client.Publication) { s.check(out.pub(ch, pubPush(p))) },
			OnJoin:        func(ci client.ClientInfo) { s.check(out.joinLeave(ch, true, clientInfoPush(ci))) },
			OnLeave:       func(ci client.ClientInfo) { s.check(out.joinLeave(ch, false, clientInfoPush(ci))) },
		}}
		if o.history == 0 {
			continue
		}
		pos, err := tapHistory(ctx, historyURL, o, ch, out)
		switch {
		case isAPICode(err, herald.ErrNotAvailable):
			rep.report(ch+" keeps no history", map[string]any{"event": "note", "channel": ch, "message": "the channel keeps no history"})
		case err != nil:
			return rep.fail(ctx, fmt.Errorf("history %s: %w", ch, err))
		default:
			// Recovering from where the history ended prints what was
			// published in between, and live ones follow with no gap.
			specs[i].opts.Since = &client.Position{Offset: pos.Offset, Epoch: pos.Epoch}
		}
	}

	setupCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := s.connect(setupCtx, o.timeout); err != nil {
		return rep.fail(ctx, fmt.Errorf("%s: %w", wsURL, withTokenHint(describeCallError(err, "connect", o.timeout), o.token)))
	}
	refused, err := s.subscribeAll(setupCtx, specs, true)
	if err != nil {
		return rep.fail(ctx, describeCallError(err, "subscribe", o.timeout))
	}
	if refused != nil {
		return 1
	}
	cancel()

	if err := s.wait(ctx); err != nil {
		return rep.fail(ctx, err)
	}
	return 0
}

// tapHistory prints the channel's last o.history publications, oldest
// first, and returns the position they end at.
func tapHistory(ctx context.Context, endpoint string, o *tapOptions, channel string, out *tapPrinter) (protocol.Position, error) {
	// The API's own request shape: unlike the protocol's, its limit 0
	// means none and absent means all, so it is always sent.
	req := struct {
		Channel string `json:"channel"`
		Limit   int    `json:"limit"`
		Reverse bool   `json:"reverse"`
	}{channel, o.history, true}
	var res protocol.HistoryResult
	if err := apiCall(ctx, endpoint, o.key, req, &res, o.timeout); err != nil {
		return protocol.Position{}, err
	}
	pubs := slices.Clone(res.Publications)
	slices.Reverse(pubs)
	for i := range pubs {
		if pubs[i].Epoch == "" {
			pubs[i].Epoch = res.Epoch
		}
		if err := out.line(channel, "history", &pubs[i], nil); err != nil {
			return protocol.Position{}, err
		}
	}
	return protocol.Position{Offset: res.Offset, Epoch: res.Epoch}, nil
}

func isAPICode(err error, code herald.ErrorCode) bool {
	var e *apiReplyError
	return errors.As(err, &e) && e.Code == uint32(code)
}

// tapPrinter writes tap's lines, each with one Write.
type tapPrinter struct {
	w    io.Writer
	json bool
	// self is tap's own client id, whose join and leave are left out.
	self string
	now  func() time.Time // time.Now unless a test sets it
}

// tapLine is one line of tap --json.
type tapLine struct {
	Time       time.Time       `json:"time"`
	Channel    string          `json:"channel"`
	Event      string          `json:"event"`
	Offset     uint64          `json:"offset,omitempty"`
	Epoch      string          `json:"epoch,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Client     string          `json:"client,omitempty"`
	User       *string         `json:"user,omitempty"`
	Info       json.RawMessage `json:"info,omitempty"`
	NumClients *int            `json:"num_clients,omitempty"`
	NumUsers   *int            `json:"num_users,omitempty"`
}

func (p *tapPrinter) pub(channel string, pub *protocol.PubPush) error {
	return p.line(channel, "pub", pub, nil)
}

func (p *tapPrinter) joinLeave(channel string, join bool, who *protocol.ClientInfo) error {
	if who.Client == p.self {
		return nil
	}
	event := "leave"
	if join {
		event = "join"
	}
	return p.line(channel, event, nil, who)
}

func (p *tapPrinter) stats(channel string, s *protocol.PresenceStatsResult) error {
	t := p.time()
	if p.json {
		clients, users := s.NumClients, s.NumUsers
		return writeJSONLine(p.w, tapLine{Time: t, Channel: channel, Event: "presence_stats", NumClients: &clients, NumUsers: &users})
	}
	return p.write(fmt.Sprintf("%s %s presence clients=%d users=%d\n", t.Format(tapTime), channel, s.NumClients, s.NumUsers))
}

// tapTime is the human format's time: enough to line events up with a
// server log, short enough to leave room for the data.
const tapTime = "15:04:05.000"

// line writes a publication (pub set) or a join or leave (who set).
func (p *tapPrinter) line(channel, event string, pub *protocol.PubPush, who *protocol.ClientInfo) error {
	t := p.time()
	if p.json {
		l := tapLine{Time: t, Channel: channel, Event: event}
		if pub != nil {
			l.Offset, l.Epoch, l.Data = pub.Offset, pub.Epoch, pub.Data
		}
		if who != nil {
			user := who.User
			l.Client, l.User, l.Info = who.Client, &user, who.Info
		}
		return writeJSONLine(p.w, l)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", t.Format(tapTime), channel, event)
	if pub != nil {
		if pub.Offset != 0 {
			fmt.Fprintf(&b, " #%d", pub.Offset)
		}
		// Data is compact JSON from the server: one line, printed as is.
		var data bytes.Buffer
		if json.Compact(&data, pub.Data) != nil {
			return fmt.Errorf("protocol error: publication in %s is not JSON: %.200q", channel, pub.Data)
		}
		b.WriteString(" ")
		b.Write(data.Bytes())
	}
	if who != nil {
		fmt.Fprintf(&b, " client=%s", who.Client)
		if who.User != "" {
			fmt.Fprintf(&b, " user=%s", who.User)
		}
		if len(who.Info) > 0 {
			var info bytes.Buffer
			if json.Compact(&info, who.Info) == nil {
				fmt.Fprintf(&b, " info=%s", info.Bytes())
			}
		}
	}
	b.WriteString("\n")
	return p.write(b.String())
}

func (p *tapPrinter) time() time.Time {
	if p.now != nil {
		return p.now()
	}
	return time.Now()
}

func (p *tapPrinter) write(s string) error {
	if _, err := io.WriteString(p.w, s); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
