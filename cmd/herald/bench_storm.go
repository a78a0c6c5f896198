package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

const benchStormUsage = `Usage: herald bench storm [flags] URL

A reconnect storm. Opens --conns Go clients (the clients/go library, with
its reconnect backoff and full jitter, and the Retry-After of a refused
upgrade) to the Herald server at URL, --ramp per second; each subscribes
to one of --channels channels. Once all are subscribed it says so on
stderr and waits for the server to go away: restart it (SIGTERM, or
SIGKILL and start it again). It then measures how long it takes until
every client is connected and subscribed again, --restarts times.

While it runs it samples, every --sample: the clients connected, the
clients subscribed, the upgrades refused with 503 so far, and the server's
resident memory and CPU seconds (from URL/metrics, when it answers).
--samples writes them to FILE as CSV (t_seconds,connected,subscribed,
refused,server_rss_bytes,server_cpu_seconds) for a chart
(go run ./internal/tools/stormchart).

A client never gives up here: a client that stops reconnecting (the server
sent a code that forbids it) or whose subscription ends is counted as given
up and fails the run, as does a restart after which the clients are not
all back within --timeout.

The server must be on loopback unless --allow-remote is given, and the
limits of herald bench apply (at most 20000 connections).

Example:
  herald serve &
  herald bench storm --conns 10000 --restarts 1 --samples storm.csv http://127.0.0.1:8000
  # when it says "all 10000 subscribed": kill %1; herald serve &

Exit status: 0 when every restart was recovered from within --timeout and
no client gave up; 1 otherwise; 2 on bad usage.
`

// stormConfig is one storm run's parameters, checked.
type stormConfig struct {
	wsURL      string
	metricsURL string
	conns      int
	channels   int
	ramp       float64
	restarts   int
	timeout    time.Duration
	wait       time.Duration
	sample     time.Duration
	minDelay   time.Duration
	maxDelay   time.Duration
	token      string
	samples    string
	json       bool
}

func runBenchStorm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCLIFlags("bench storm")
	var cfg stormConfig
	fs.IntVar(&cfg.conns, "conns", 1000, "client `connections` to open, at most 20000")
	fs.IntVar(&cfg.channels, "channels", 10, "`channels` the clients spread over, round-robin")
	fs.Float64Var(&cfg.ramp, "ramp", 1000, "clients started per second, before the first restart")
	fs.IntVar(&cfg.restarts, "restarts", 1, "server restarts to wait for and measure")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "time allowed, from the first client lost, until all are back and subscribed; also for the first connects")
	fs.DurationVar(&cfg.wait, "wait", 10*time.Minute, "how long to wait for each restart to begin")
	fs.DurationVar(&cfg.sample, "sample", 100*time.Millisecond, "sampling `interval`")
	fs.DurationVar(&cfg.minDelay, "min-delay", 0, "the clients' MinReconnectDelay (default: the client's, 200ms)")
	fs.DurationVar(&cfg.maxDelay, "max-delay", 0, "the clients' MaxReconnectDelay (default: the client's, 20s)")
	fs.StringVar(&cfg.token, "token", "", "connection `TOKEN` of every client, for a server that does not allow anonymous connections")
	fs.StringVar(&cfg.samples, "samples", "", "write the samples as CSV to `FILE`")
	fs.BoolVar(&cfg.json, "json", false, "print the summary as one JSON object")
	api := fs.String("api", "", "server base `URL` for /metrics (default: the host of URL)")
	allowRemote := fs.Bool("allow-remote", false, "allow a server that is not on loopback")
	if code, ok := parseCLIFlags(fs, args, benchStormUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, fs, "need exactly one URL")
	}
	if msg := emptyToken(fs, cfg.token); msg != "" {
		return usageError(stderr, fs, msg)
	}
	if msg := cfg.check(); msg != "" {
		return usageError(stderr, fs, msg)
	}
	var err error
	if cfg.wsURL, err = websocketURL(fs.Arg(0)); err != nil {
		return usageError(stderr, fs, err.Error())
	}
	base := *api
	if base == "" {
		base = benchAPIBase(cfg.wsURL)
	}
	if cfg.metricsURL, err = apiURL(base, "/metrics"); err != nil {
		return usageError(stderr, fs, err.Error())
	}
	if host := benchHost(cfg.wsURL); !*allowRemote && !benchIsLoopback(host) {
		return usageError(stderr, fs, fmt.Sprintf("%s is not a loopback address: pass --allow-remote to storm a server on another host", host))
	}
	if err := benchRaiseNoFile(uint64(cfg.conns + 64)); err != nil {
		fmt.Fprintf(stderr, "herald bench storm: %v\n", err)
		return 1
	}

	res := runStorm(ctx, cfg, stderr)
	if cfg.samples != "" {
		if err := writeStormSamples(cfg.samples, res.Samples); err != nil {
			fmt.Fprintf(stderr, "herald bench storm: %v\n", err)
			return 1
		}
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "herald bench storm: %v\n", err)
			return 1
		}
	} else {
		res.writeText(stdout)
	}
	if res.Failure != "" {
		fmt.Fprintf(stderr, "herald bench storm: FAILED: %s\n", res.Failure)
		return 1
	}
	return 0
}

// check returns what is wrong with the numbers, or "".
func (c *stormConfig) check() string {
	switch {
	case c.conns < 1 || c.conns > benchMaxConns:
		return fmt.Sprintf("--conns %d: give 1 to %d", c.conns, benchMaxConns)
	case c.channels < 1 || c.channels > c.conns:
		return fmt.Sprintf("--channels %d: give 1 to --conns (%d)", c.channels, c.conns)
	case !(c.ramp > 0):
		return fmt.Sprintf("--ramp %g: start more than 0 clients per second", c.ramp)
	case c.restarts < 0:
		return fmt.Sprintf("--restarts %d: give 0 or more", c.restarts)
	case c.timeout <= 0 || c.wait <= 0:
		return "--timeout and --wait: allow more than 0s"
	case c.sample < 10*time.Millisecond:
		return fmt.Sprintf("--sample %s: sample every 10ms or less often", c.sample)
	case c.minDelay < 0 || c.maxDelay < 0:
		return "--min-delay and --max-delay: give 0 (the default) or more"
	}
	return ""
}

// writeStormSamples writes the samples as CSV.
func writeStormSamples(path string, samples []stormSample) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(f, "t_seconds,connected,subscribed,refused,server_rss_bytes,server_cpu_seconds")
	for _, s := range samples {
		rss, cpu := "", ""
		if s.RSS > 0 {
			rss = fmt.Sprint(s.RSS)
			cpu = fmt.Sprintf("%.3f", s.CPU)
		}
		fmt.Fprintf(f, "%.3f,%d,%d,%d,%s,%s\n", s.T, s.Connected, s.Subscribed, s.Refused, rss, cpu)
	}
	return f.Close()
}
