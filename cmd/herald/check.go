package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	client "github.com/heraldrt/herald/clients/go"
)

var checkCommand = &command{
	name:    "check",
	summary: "check that a server accepts a connection and answers a ping",
	run:     runCheck,
	flags:   func() *flag.FlagSet { fs, _ := checkFlags(); return fs },
}

const checkUsage = `Usage: herald check [flags] URL

Opens a WebSocket to the Herald server at URL, sends connect, does one ping
round trip and prints how long each took:

  ok: ws://127.0.0.1:8000/connection/websocket connect 1.2ms, ping 0.3ms

With --subscribe CHANNEL it also checks delivery end to end: it subscribes
to CHANNEL, publishes a unique payload to it with the server API (POST
URL/api/publish, with --api-key or HERALD_API_KEY), waits for it to arrive
and adds the time from publish to receive:

  ok: ws://... connect 1.2ms, ping 0.3ms, publish→receive 2.1ms

The payload, {"herald_check":"<random>"}, reaches every subscriber of
CHANNEL and is kept in its history like any publication: use a channel of
its own, such as _health.

Any failure (refused, timeout, handshake error, error reply, disconnect,
a refused publish) prints the reason on stderr. With --json, check prints
one JSON object on stdout instead, success or not:

  {"ok":true,"url":"ws://...","connect_ms":1.2,"ping_ms":0.3,"roundtrip_ms":2.1}
  {"ok":false,"url":"ws://...","error":"..."}

roundtrip_ms is present only with --subscribe. Meant for load balancer
health checks and cron. URL is the server's base URL or the full WebSocket
endpoint; the API is reached at the same host and path prefix.

Examples:
  herald check --timeout 2s https://herald.example.com || alert
  HERALD_API_KEY=secret herald check --subscribe _health --json http://127.0.0.1:8000

Exit status: 0 when healthy, 1 when not, 2 on bad usage.
`

// checkOptions are check's flags, parsed.
type checkOptions struct {
	timeout   time.Duration
	token     string
	subscribe string
	apiKey    string
	json      bool
	transport string
}

func checkFlags() (*flag.FlagSet, *checkOptions) {
	o := new(checkOptions)
	fs := newCLIFlags("check")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "time allowed for the whole check")
	fs.StringVar(&o.token, "token", "", "connection `TOKEN`, for a server that does not allow anonymous connections")
	fs.StringVar(&o.subscribe, "subscribe", "", "also check that a publication to `CHANNEL` arrives, and time it")
	fs.StringVar(&o.apiKey, "api-key", "", "server API `KEY` for --subscribe (default $HERALD_API_KEY)")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on stdout")
	transportFlag(fs, &o.transport)
	return fs, o
}

// checkResult is what a check measured. Roundtrip is zero without
// --subscribe.
type checkResult struct {
	Connect, Ping, Roundtrip time.Duration
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := checkFlags()
	if code, ok := parseCLIFlags(fs, args, checkUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, fs, "need exactly one URL")
	}
	wsURL, err := websocketURL(fs.Arg(0))
	if err != nil {
		return usageError(stderr, fs, err.Error())
	}
	if msg := emptyToken(fs, o.token); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if msg := checkTransport(o.transport); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if o.subscribe != "" {
		if msg := checkChannels([]string{o.subscribe}); msg != "" {
			return usageError(stderr, fs, "--subscribe: "+msg)
		}
	}
	var publishEndpoint string
	if o.subscribe != "" {
		if o.apiKey == "" {
			o.apiKey = os.Getenv("HERALD_API_KEY")
		}
		if o.apiKey == "" {
			return usageError(stderr, fs, "--subscribe publishes with the server API: pass --api-key or set HERALD_API_KEY")
		}
		if publishEndpoint, err = apiEndpointFor(wsURL, publishPath); err != nil {
			return usageError(stderr, fs, err.Error())
		}
	}

	res, err := check(ctx, wsURL, publishEndpoint, o)
	if o.json {
		out := map[string]any{"ok": err == nil, "url": wsURL, "transport": o.transport}
		if err != nil {
			out["error"] = err.Error()
		} else {
			out["connect_ms"] = millisValue(res.Connect)
			out["ping_ms"] = millisValue(res.Ping)
			if o.subscribe != "" {
				out["roundtrip_ms"] = millisValue(res.Roundtrip)
			}
		}
		if werr := writeJSONLine(stdout, out); werr != nil {
			fmt.Fprintf(stderr, "herald check: %v\n", werr)
			return 1
		}
		if err != nil {
			return 1
		}
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "herald check: %s: %v\n", wsURL, err)
		return 1
	}
	line := fmt.Sprintf("ok: %s connect %s, ping %s", wsURL, millis(res.Connect), millis(res.Ping))
	if o.transport != client.TransportWebSocket {
		line += " (over " + o.transport + ")"
	}
	if o.subscribe != "" {
		line += ", publish→receive " + millis(res.Roundtrip)
	}
	fmt.Fprintln(stdout, line)
	return 0
}

// apiEndpointFor returns the server API endpoint next to the WebSocket
// endpoint wsURL: same host, same path prefix.
func apiEndpointFor(wsURL, endpoint string) (string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return "", err
	}
	if u.Scheme == "wss" {
		u.Scheme = "https"
	} else {
		u.Scheme = "http"
	}
	u.Path = strings.TrimSuffix(u.Path, websocketPath)
	return apiURL(u.String(), endpoint)
}

// check measures connect from the first byte dialled to the connect reply,
// since that is what a client waits for before it can do anything, and
// the round trip from just before the publish request to the publication's
// arrival, since that is what a publisher's audience waits for.
func check(ctx context.Context, wsURL, publishEndpoint string, o *checkOptions) (res checkResult, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	// The payload to wait for; anything else published to the channel
	// meanwhile is someone else's.
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	payload := json.RawMessage(`{"herald_check":"` + hex.EncodeToString(nonce[:]) + `"}`)
	received := make(chan time.Time, 1)

	start := time.Now()
	s := newCLISession(sessionOptions{wsURL: wsURL, transport: o.transport, token: o.token, timeout: o.timeout}, nil)
	defer s.close()
	if err := s.connect(ctx, o.timeout); err != nil {
		return res, withTokenHint(describeCallError(err, "connect", o.timeout), o.token)
	}
	res.Connect = time.Since(start)

	start = time.Now()
	if err := s.c.Ping(ctx); err != nil {
		return res, describeCallError(err, "ping", o.timeout)
	}
	res.Ping = time.Since(start)
	if o.subscribe == "" {
		return res, nil
	}

	refused, err := s.subscribeAll(ctx, []subSpec{{channel: o.subscribe, opts: client.SubscriptionOptions{
		OnPublication: func(p client.Publication) {
			if sameJSONValue(p.Data, payload) {
				select {
				case received <- time.Now():
				default:
				}
			}
		},
	}}}, false)
	switch {
	case err != nil:
		return res, describeCallError(err, "subscribe "+o.subscribe, o.timeout)
	case refused != nil:
		return res, fmt.Errorf("subscribe %s: %w", o.subscribe, refused)
	}
	start = time.Now()
	if _, err := publish(ctx, publishEndpoint, o.apiKey, o.subscribe, payload, o.timeout); err != nil {
		return res, fmt.Errorf("publish to %s: %w", o.subscribe, err)
	}
	select {
	case t := <-received:
		res.Roundtrip = t.Sub(start)
		return res, nil
	case err := <-s.fatal:
		return res, fmt.Errorf("wait for the publication in %s: %s", o.subscribe, clientText(err))
	case <-ctx.Done():
		return res, fmt.Errorf("published to %s, but the publication did not arrive within %s", o.subscribe, o.timeout)
	}
}

// sameJSONValue compares two JSON values, ignoring the whitespace the
// server removes.
func sameJSONValue(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
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

// millisValue is a duration in milliseconds for JSON, to the microsecond.
func millisValue(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
