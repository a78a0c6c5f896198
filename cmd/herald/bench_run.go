package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchMaxHandshakes bounds the connections being opened at once, so that
// a server slower than --ramp sees a queue here rather than thousands of
// half-open handshakes; the connect time then shows the slowness.
const benchMaxHandshakes = 256

// runBenchLoad runs the load: connect, publish, wait for the last
// deliveries, close. It fails only when not even one connection opens;
// every other failure is counted in the result.
func runBenchLoad(ctx context.Context, cfg benchConfig, stderr io.Writer) (*benchResult, error) {
	var id [3]byte
	_, _ = rand.Read(id[:])
	channels := make([]string, cfg.channels)
	for i := range channels {
		channels[i] = fmt.Sprintf("bench-%s-%d", hex.EncodeToString(id[:]), i)
	}
	stats := newBenchStats()
	res := &benchResult{cfg: cfg, stats: stats}
	res.ServerRSSBefore = benchServerRSS(ctx, cfg.metricsURL)

	// The first connection alone: an unreachable server is one clear
	// error, not thousands.
	start := time.Now()
	res.start = start
	first, err := dialBench(ctx, cfg, channels[0], stats)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.wsURL, withTokenHint(err, cfg.token))
	}
	smp := startBenchSampler(stats, stderr, cfg.conns, start)

	conns := make([]*benchConn, cfg.conns)
	var readers sync.WaitGroup
	opened := func(i int, c *benchConn) {
		conns[i] = c
		stats.opened.Add(1)
		stats.open.Add(1)
		readers.Go(c.read)
	}
	opened(0, first)
	defer func() {
		benchCloseAll(conns)
		readers.Wait()
	}()

	res.Aborted = openBenchConns(ctx, cfg, channels, stats, opened)
	res.ConnectSeconds = time.Since(start).Seconds()

	subs := make([]int64, len(channels))
	for i, c := range conns {
		if c != nil {
			subs[i%len(channels)]++
		}
	}
	res.ServerRSSConnected = benchServerRSS(ctx, cfg.metricsURL)
	res.ServerRSS = res.ServerRSSConnected

	if res.Aborted == "" && ctx.Err() == nil {
		smp.setPhase("publishing")
		res.wire.start(ctx, cfg)
		res.publishStart = time.Now()
		pub := newBenchPublisher(cfg.publishURL, cfg.apiKey, channels, subs, cfg.rate, cfg.payload, cfg.timeout, stats)
		pub.run(ctx, cfg.duration)
		res.publishEnd = time.Now()
		if stats.publications.Load() == 0 && pub.attempts.Load() > 0 {
			res.Aborted = "every publish failed"
		}

		smp.setPhase("draining")
		benchDrain(ctx, stats, cfg.timeout)
		res.wire.end(ctx, cfg)
		if rss := benchServerRSS(ctx, cfg.metricsURL); rss != nil {
			res.ServerRSS = rss
		}
	}
	if ctx.Err() != nil && res.Aborted == "" {
		res.Aborted = "interrupted"
	}
	smp.stop()
	res.end = time.Now()
	return res, nil
}

// openBenchConns opens connections 1 to cfg.conns-1 at cfg.ramp per
// second and returns once each has subscribed or failed. It gives up, and
// says why, when too many fail: the server is refusing them, and opening
// the rest would only count the same error.
func openBenchConns(ctx context.Context, cfg benchConfig, channels []string, stats *benchStats, opened func(int, *benchConn)) (aborted string) {
	maxFailures := int64(max(10, cfg.conns/10))
	var failures atomic.Int64
	sem := make(chan struct{}, benchMaxHandshakes)
	var handshakes sync.WaitGroup
	defer handshakes.Wait()
	start := time.Now()
	for i := 1; i < cfg.conns; i++ {
		due := start.Add(time.Duration(float64(i) / cfg.ramp * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ""
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ""
		}
		if n := failures.Load(); n >= maxFailures {
			<-sem
			return fmt.Sprintf("%d connections failed; stopped opening more", n)
		}
		handshakes.Go(func() {
			c, err := dialBench(ctx, cfg, channels[i%len(channels)], stats)
			<-sem
			if err != nil {
				key := "connect_failed"
				var se *benchStepError
				if errors.As(err, &se) {
					key = se.key
				}
				stats.fail(key, err.Error())
				failures.Add(1)
				return
			}
			opened(i, c)
		})
	}
	return ""
}

// benchDrain waits until every expected delivery has arrived, or for
// timeout after publishing ended.
func benchDrain(ctx context.Context, stats *benchStats, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for stats.deliveries.Load() < stats.expected.Load() && time.Now().Before(deadline) {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// benchCloseAll closes the connections with a close handshake, many at
// a time: one by one, 20000 round trips would take a while.
func benchCloseAll(conns []*benchConn) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(conns)) {
					return
				}
				if c := conns[i]; c != nil {
					c.close()
				}
			}
		})
	}
	wg.Wait()
}

// benchServerRSS reads process_resident_memory_bytes from the server's
// /metrics; nil when there is none.
func benchServerRSS(ctx context.Context, metricsURL string) *int64 {
	m := benchServerMetrics(ctx, metricsURL, 5*time.Second, "process_resident_memory_bytes")
	f, ok := m["process_resident_memory_bytes"]
	if !ok {
		return nil
	}
	n := int64(f)
	return &n
}

// benchServerMetrics reads the named unlabelled metrics from the server's
// /metrics within timeout; those it did not find are missing from the map.
func benchServerMetrics(ctx context.Context, metricsURL string, timeout time.Duration, names ...string) map[string]float64 {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := map[string]float64{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return out
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() && len(out) < len(names) {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	return out
}
