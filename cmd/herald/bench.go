package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	client "github.com/heraldrt/herald/clients/go"
)

var benchCommand = &command{
	name:    "bench",
	summary: "load a server with subscribers and publications, and measure delivery latency",
	run:     runBench,
}

const benchUsage = `Usage: herald bench [flags] URL

A load generator. Opens --conns subscriber connections to the Herald server
at URL, --ramp per second; each sends connect, subscribes to one of
--channels channels (round-robin) and answers the server's pings. Then it
publishes --rate publications per second in total for --duration through
the server API (POST /api/publish from several workers, spread evenly over
time and over the channels). Each publication's data is

  {"t":<send time, unix nanoseconds>,"seq":N,"pad":"xxx..."}

with --payload bytes of padding, and each subscriber takes its receive time
minus t as the delivery latency: publishers and subscribers run in this one
process, on one clock.

Progress goes to stderr once a second. The summary goes to stdout: connect
and subscribe times; delivery latency p50, p90, p99, p99.9 and max (from a
histogram with log buckets, exact to 3%); publications; deliveries against
the expected number (each publication times the subscribers of its
channel); errors by code (publish_http_STATUS for refused publications,
disconnect_CODE for connections the server closed); and the server's
resident memory, from URL/metrics; and what the publishing cost: the bytes
on the wire (every byte the connections sent and received on their
sockets, from the first publication to the last delivery, per delivery)
and the server's CPU time per delivery (process_cpu_seconds_total at
URL/metrics). --json prints the summary as one JSON
object; --report writes a self-contained HTML page with charts.

--transport sse or http_stream opens the subscribers on an HTTP fallback
(GET /connection/sse or /connection/http_stream, commands and pongs POSTed
to /connection/emulation) instead of WebSocket, to compare their cost.

URL is the server's base URL or the full .../connection/websocket endpoint;
the API is at the same host unless --api says otherwise. The API key comes
from --api-key or the environment variable HERALD_API_KEY. The channels are
named bench-RUN-N with a random RUN, so that runs do not see each other's
publications. Flags may come before or after URL.

herald bench storm (see herald bench storm --help) measures a reconnect
storm instead: clients that come back after the server restarts.

Limits. At most 100000 connections and 10m of publishing. The server must be
on loopback (localhost, 127.0.0.0/8, ::1) unless --allow-remote is given:
this is enough traffic to hurt a server that others depend on, and across a
network it measures the network as much as Herald. Each connection takes a
file descriptor here (bench raises its own limit, the hard one too when
run as root) and one in the server: start the server with a higher limit
(ulimit -n 20000; as root ulimit -Hn 120000 first) for large runs. One
source address has about 28,000 ephemeral ports: past 25000 connections
bench dials from several loopback addresses (--source-addrs). Run it
without --dev, whose join pushes cost every subscriber of a channel a
message each time one more subscribes.

Example:
  herald serve --api-key secret &
  HERALD_API_KEY=secret herald bench --conns 1000 --rate 50 --duration 10s \
      --report bench.html http://127.0.0.1:8000

Exit status: 0 when every publication reached every subscriber of its
channel and nothing failed; 1 when the run failed (server unreachable, any
error, or deliveries not equal to expected deliveries); 2 on bad usage.
`

// Limits that keep a run bounded: file descriptors and loopback ports for
// the connections, and a duration that stays a benchmark, not a soak test.
const (
	benchMaxConns    = 100000
	benchMaxDuration = 10 * time.Minute
	benchMaxRate     = 100000
	benchMaxPayload  = 512 << 10
)

// benchConfig is one run's parameters, checked.
type benchConfig struct {
	wsURL      string
	transport  string // websocket, sse or http_stream
	streamURL  string // the fallback's stream endpoint, when not websocket
	wire       *benchWire
	publishURL string
	metricsURL string
	apiKey     string
	conns      int
	channels   int
	rate       float64
	payload    int
	ramp       float64
	token      string
	duration   time.Duration
	timeout    time.Duration
	report     string
	json       bool
	sources    *benchSources // nil: the kernel picks the source address
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "storm" {
		return runBenchStorm(ctx, args[1:], stdout, stderr)
	}
	fs := newCLIFlags("bench")
	var cfg benchConfig
	fs.IntVar(&cfg.conns, "conns", 100, "subscriber `connections` to open, at most 100000")
	sources := fs.String("source-addrs", "", "local `addresses` to dial from, as a range (127.0.0.2-127.0.0.5), a list or a count N (127.0.0.1 to 127.0.0.N), each good for 25000 connections (default: enough loopback addresses for --conns)")
	fs.IntVar(&cfg.channels, "channels", 1, "`channels` the subscribers spread over, round-robin")
	fs.Float64Var(&cfg.rate, "rate", 100, "publications per second, in total over all channels")
	fs.IntVar(&cfg.payload, "payload", 64, "`bytes` of padding in each publication's data")
	fs.Float64Var(&cfg.ramp, "ramp", 500, "connections opened per second")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to publish, at most 10m")
	fs.StringVar(&cfg.token, "token", "", "connection `TOKEN` of every subscriber, for a server that does not allow anonymous connections")
	fs.StringVar(&cfg.apiKey, "api-key", "", "server API `key` for POST /api/publish (default $HERALD_API_KEY)")
	api := fs.String("api", "", "server API base `URL` (default: the host of URL, over http or https)")
	fs.StringVar(&cfg.report, "report", "", "write an HTML report with charts to `FILE.html`")
	fs.BoolVar(&cfg.json, "json", false, "print the summary as one JSON object")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "time allowed for each connect, subscribe and publish, and for the last deliveries after publishing")
	transportFlag(fs, &cfg.transport)
	allowRemote := fs.Bool("allow-remote", false, "allow a server that is not on loopback (see Limits above)")

	if code, ok := parseCLIFlags(fs, args, benchUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, fs, "need exactly one URL")
	}
	target := fs.Arg(0)
	if msg := emptyToken(fs, cfg.token); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if msg := cfg.check(); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if msg := checkTransport(cfg.transport); msg != "" {
		return usageError(stderr, fs, msg)
	}
	var err error
	if cfg.wsURL, err = websocketURL(target); err != nil {
		return usageError(stderr, fs, err.Error())
	}
	if cfg.transport != client.TransportWebSocket {
		if cfg.streamURL, err = client.StreamURL(cfg.wsURL, cfg.transport); err != nil {
			return usageError(stderr, fs, err.Error())
		}
	}
	base := *api
	if base == "" {
		base = benchAPIBase(cfg.wsURL)
	}
	if cfg.publishURL, err = apiURL(base, publishPath); err != nil {
		return usageError(stderr, fs, err.Error())
	}
	if cfg.metricsURL, err = apiURL(base, "/metrics"); err != nil {
		return usageError(stderr, fs, err.Error())
	}
	if !*allowRemote {
		for _, u := range []string{cfg.wsURL, cfg.publishURL} {
			if host := benchHost(u); !benchIsLoopback(host) {
				return usageError(stderr, fs, fmt.Sprintf("%s is not a loopback address: pass --allow-remote to load a server on another host (see Limits)", host))
			}
		}
	}
	if cfg.sources, err = parseBenchSources(*sources, cfg.conns, benchHost(cfg.wsURL)); err != nil {
		return usageError(stderr, fs, err.Error())
	}
	cfg.wire = newBenchWire(cfg.conns, cfg.sources)
	if cfg.apiKey == "" {
		cfg.apiKey = os.Getenv("HERALD_API_KEY")
	}
	if cfg.apiKey == "" {
		return usageError(stderr, fs, "no API key: pass --api-key or set HERALD_API_KEY")
	}

	// A descriptor per connection, per publishing worker, and some slack
	// for the runtime and the metrics requests.
	if err := benchRaiseNoFile(uint64(cfg.conns + benchPublishWorkers(cfg.rate) + 64)); err != nil {
		fmt.Fprintf(stderr, "herald bench: %v\n", err)
		return 1
	}

	res, err := runBenchLoad(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "herald bench: %v\n", err)
		return 1
	}
	if cfg.json {
		if err := res.writeJSON(stdout); err != nil {
			fmt.Fprintf(stderr, "herald bench: %v\n", err)
			return 1
		}
	} else {
		res.writeText(stdout)
	}
	if cfg.report != "" {
		if err := writeBenchReport(cfg.report, res); err != nil {
			fmt.Fprintf(stderr, "herald bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "herald bench: wrote %s\n", cfg.report)
	}
	if msg := res.failure(); msg != "" {
		fmt.Fprintf(stderr, "herald bench: FAILED: %s\n", msg)
		return 1
	}
	return 0
}

// check returns what is wrong with the numbers, or "".
func (c *benchConfig) check() string {
	switch {
	case c.conns < 1:
		return fmt.Sprintf("--conns %d: open at least 1 connection", c.conns)
	case c.conns > benchMaxConns:
		return fmt.Sprintf("--conns %d is more than %d, the most one run opens: each connection takes a file descriptor and a loopback port here and in the server; run several herald bench processes for more", c.conns, benchMaxConns)
	case c.channels < 1 || c.channels > c.conns:
		return fmt.Sprintf("--channels %d: give 1 to --conns (%d), so that every channel has a subscriber", c.channels, c.conns)
	case !(c.rate > 0) || c.rate > benchMaxRate:
		return fmt.Sprintf("--rate %g: give more than 0 and at most %d publications per second", c.rate, benchMaxRate)
	case c.payload < 0 || c.payload > benchMaxPayload:
		return fmt.Sprintf("--payload %d: give 0 to %d bytes", c.payload, benchMaxPayload)
	case !(c.ramp > 0):
		return fmt.Sprintf("--ramp %g: open more than 0 connections per second", c.ramp)
	case c.duration <= 0:
		return fmt.Sprintf("--duration %s: publish for more than 0s", c.duration)
	case c.duration > benchMaxDuration:
		return fmt.Sprintf("--duration %s is longer than %s, the longest run: herald bench measures, it is not a soak test", c.duration, benchMaxDuration)
	case c.rate*c.duration.Seconds() < 1:
		return fmt.Sprintf("--rate %g for --duration %s is less than one publication", c.rate, c.duration)
	case c.timeout <= 0:
		return fmt.Sprintf("--timeout %s: allow more than 0s", c.timeout)
	}
	return ""
}

// benchAPIBase turns the WebSocket endpoint into the server's HTTP base
// URL, keeping a path prefix under which a proxy mounts the server.
func benchAPIBase(wsURL string) string {
	u, err := url.Parse(wsURL)
	if err != nil {
		return wsURL
	}
	if u.Scheme == "wss" {
		u.Scheme = "https"
	} else {
		u.Scheme = "http"
	}
	u.Path = strings.TrimSuffix(u.Path, websocketPath)
	u.RawQuery = ""
	return u.String()
}

func benchHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Hostname()
}

// benchIsLoopback says whether host names this machine without a
// network in between. Names other than localhost are not resolved: what a
// name resolves to can change between the check and the dial.
func benchIsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
