package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchPublisher sends the run's publications through the server API:
// publication k is due at start + k/rate and goes to channel k mod
// channels, so that the load is spread evenly over time and channels.
type benchPublisher struct {
	endpoint string
	key      string
	channels []string
	subs     []int64 // connections subscribed to each channel
	rate     float64
	pad      string
	timeout  time.Duration
	stats    *benchStats
	client   *http.Client

	attempts atomic.Int64
}

// benchPublishWorkers is how many requests may be in flight: enough to
// keep to the rate while each request takes up to 2s (the API answers a
// publish once it is fanned out, which takes that long at 10,000
// subscribers on a loaded machine), so that a slow answer does not hold
// back the publications due after it; at least 8, at most 256.
func benchPublishWorkers(rate float64) int {
	return min(max(int(rate*2), 8), 256)
}

func newBenchPublisher(endpoint, key string, channels []string, subs []int64, rate float64, payload int, timeout time.Duration, stats *benchStats) *benchPublisher {
	workers := benchPublishWorkers(rate)
	return &benchPublisher{
		endpoint: endpoint, key: key, channels: channels, subs: subs, rate: rate,
		pad: strings.Repeat("x", payload), timeout: timeout, stats: stats,
		client: &http.Client{
			Transport: &http.Transport{
				// One kept-alive connection per worker: the default of 2
				// idle connections per host would make the other workers
				// open and close a connection per request, and measure
				// that.
				MaxIdleConnsPerHost: workers,
				MaxConnsPerHost:     workers,
				IdleConnTimeout:     30 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// run publishes for d and returns when the last request is answered.
// Publications whose time comes after d (the workers fell behind because
// the server answered slowly) are not sent; each counts as an error, since
// the run did not produce the load it was asked for.
func (p *benchPublisher) run(ctx context.Context, d time.Duration) {
	defer p.client.CloseIdleConnections()
	total := max(int64(p.rate*d.Seconds()), 1)
	start := time.Now()
	deadline := start.Add(d)
	var next atomic.Int64
	// stop ends the run early without cancelling the requests in flight:
	// their answers (a 401, say) are what the report must count, not the
	// "context canceled" a cancel would turn them into.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range benchPublishWorkers(p.rate) {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= total || ctx.Err() != nil || stop.Load() {
					return
				}
				due := start.Add(time.Duration(float64(k) / p.rate * float64(time.Second)))
				if wait := time.Until(due); wait > 0 {
					select {
					case <-time.After(wait):
					case <-ctx.Done():
						return
					}
				} else if time.Since(deadline) > time.Second {
					// Every later publication is later still.
					n := 1 + max(total-next.Swap(total), 0)
					p.stats.failN("publish_not_sent", fmt.Sprintf("publishing fell more than 1s behind --rate: the server answered too slowly for %.0f/s", p.rate), n)
					return
				}
				if stop.Load() {
					return
				}
				if p.publish(ctx, k) {
					continue
				}
				// A wrong key or URL fails every request: stop after a
				// few rather than send the whole run's worth.
				if p.attempts.Load() >= 20 && p.stats.publications.Load() == 0 {
					stop.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
}

// publish sends publication k and reports whether the server accepted it.
func (p *benchPublisher) publish(ctx context.Context, k int64) bool {
	ch := int(k % int64(len(p.channels)))
	body := make([]byte, 0, 96+len(p.channels[ch])+len(p.pad))
	body = append(body, `{"channel":"`...)
	body = append(body, p.channels[ch]...)
	body = append(body, `","data":{"t":`...)
	start := time.Now()
	body = strconv.AppendInt(body, start.UnixNano(), 10)
	body = append(body, `,"seq":`...)
	body = strconv.AppendInt(body, k, 10)
	body = append(body, `,"pad":"`...)
	body = append(body, p.pad...)
	body = append(body, `"}}`...)

	p.attempts.Add(1)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		p.stats.fail("publish_failed", err.Error())
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "apikey "+p.key)
	req.Header.Set("User-Agent", "herald-bench/"+version)
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("POST %s: no response within %s", p.endpoint, p.timeout)
		}
		p.stats.fail("publish_failed", err.Error())
		return false
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, pubMaxReply))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.stats.fail(fmt.Sprintf("publish_http_%d", resp.StatusCode), benchAPIError(resp, b))
		return false
	}
	if err != nil {
		p.stats.fail("publish_failed", fmt.Sprintf("read the reply: %v", err))
		return false
	}
	p.stats.publish.record(time.Since(start))
	p.stats.publications.Add(1)
	p.stats.expected.Add(p.subs[ch])
	return true
}

// benchAPIError describes a refused publish with the server's code.
func benchAPIError(resp *http.Response, body []byte) string {
	var e apiError
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		return fmt.Sprintf("HTTP %s, code %d: %s", resp.Status, e.Error.Code, e.Error.Message)
	}
	msg := "HTTP " + resp.Status
	if s := strings.TrimSpace(string(body)); s != "" && !strings.HasPrefix(s, "<") {
		msg += ": " + truncateText(s, 200)
	}
	return msg
}
