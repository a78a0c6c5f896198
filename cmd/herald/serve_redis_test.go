package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/protocol"
)

// Two `herald serve` processes on one real Redis reach each other: one
// configured with the flags, the other with the environment.
func TestServeRedisTwoNodes(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	a, _ := startServer(t, "HERALD_BROKER=redis", "HERALD_REDIS_ADDRESS="+r.Addr)
	b, _ := startServerArgs(t, nil, "--broker", "redis", "--redis-address", r.Addr)
	waitReady(t, a, http.StatusOK)
	waitReady(t, b, http.StatusOK)

	sub := startHerald(t, nil, "sub", a, "news")
	sub.waitFor(t, sub.stderr, "the subscription", hasAll("subscribed to news"))
	r1 := publishOK(t, b, "news", `{"n":1}`)
	r2 := publishOK(t, a, "news", `{"n":2}`)
	if r2.Offset != r1.Offset+1 || r2.Epoch != r1.Epoch {
		t.Fatalf("offsets from two nodes: %+v then %+v, want consecutive in one epoch", r1, r2)
	}
	sub.waitFor(t, sub.stdout, "both publications", hasLines(2))
	checkPubLines(t, sub.stdout.lines(), []pubLine{
		{Channel: "news", Offset: r1.Offset, Epoch: r1.Epoch, Data: json.RawMessage(`{"n":1}`)},
		{Channel: "news", Offset: r2.Offset, Epoch: r2.Epoch, Data: json.RawMessage(`{"n":2}`)},
	})
}

// With Redis down, publishing answers 503 with code 114 and /readyz says
// not ready, while the subscriber stays connected. Redis comes back empty
// (no persistence): the subscriber is either told to reconnect (4004), to
// learn recovered: false, when the node cannot tell whether publications
// were lost, or gets the next publication, the first of a new history; a
// new subscriber gets it too.
func TestServeRedisDown(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	base, _ := startServerArgs(t, nil, "--broker", "redis", "--redis-address", r.Addr)
	waitReady(t, base, http.StatusOK)
	sub := startHerald(t, nil, "sub", base, "news")
	sub.waitFor(t, sub.stderr, "the subscription", hasAll("subscribed to news"))

	r.Stop()
	waitReady(t, base, http.StatusServiceUnavailable)
	status, body := apiPublish(t, base, "news", `{"n":1}`)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"code":114`) {
		t.Fatalf("publish with Redis down: HTTP %d %s, want 503 with code 114", status, body)
	}
	select {
	case <-sub.done:
		t.Fatalf("the subscriber ended while Redis was down:\n%s", sub.stderr)
	default:
	}

	r.Start()
	waitReady(t, base, http.StatusOK)
	again := startHerald(t, nil, "sub", base, "news")
	again.waitFor(t, again.stderr, "the new subscription", hasAll("subscribed to news"))
	// The first publishes after a restart may still meet a connection
	// to the old Redis and get 503, which a backend retries.
	res := publishRetry(t, base, "news", `{"n":2}`)
	want := []pubLine{{Channel: "news", Offset: res.Offset, Epoch: res.Epoch, Data: json.RawMessage(`{"n":2}`)}}
	again.waitFor(t, again.stdout, "the publication after Redis came back", hasLines(1))
	checkPubLines(t, again.stdout.lines(), want)
	deadline := time.Now().Add(waitTimeout)
	for !strings.Contains(sub.stderr.String(), "4004") && !hasLines(1)(sub.stdout.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the first subscriber neither got the publication nor was told to recover\nstdout:\n%s\nstderr:\n%s", sub.stdout, sub.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if hasLines(1)(sub.stdout.String()) {
		checkPubLines(t, sub.stdout.lines(), want)
	}
}

// publishRetry publishes through the API, retrying while it answers 503.
func publishRetry(t *testing.T, base, channel, data string) protocol.PublishResult {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		status, body := apiPublish(t, base, channel, data)
		if status == http.StatusOK {
			var r protocol.PublishResult
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatalf("publish answered %s: %v", body, err)
			}
			return r
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("publish: HTTP %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServerArgs is startServer with extra serve flags and environment.
func startServerArgs(t *testing.T, env []string, args ...string) (string, *process) {
	t.Helper()
	addr := freeAddr(t)
	p := startHerald(t, env, append([]string{"serve", "--dev", "--listen", addr, "--api-key", testAPIKey}, args...)...)
	return "http://" + addr, p
}

// waitReady waits until GET /readyz answers status.
func waitReady(t *testing.T, base string, status int) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(waitTimeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == status {
				return
			}
			last = resp.Status + " " + string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("GET %s/readyz did not answer %d within %s; last: %s", base, status, waitTimeout, last)
}

// apiPublish posts a publication to the server API and returns the
// status and body, whatever they are.
func apiPublish(t *testing.T, base, channel, data string) (int, string) {
	t.Helper()
	status, body := apiPublishQuiet(base, channel, data)
	if status == 0 {
		t.Fatalf("POST /api/publish: %s", body)
	}
	return status, body
}

// apiPublishQuiet is apiPublish for other goroutines: a failed request is
// status 0 with the error as the body.
func apiPublishQuiet(base, channel, data string) (int, string) {
	body, _ := json.Marshal(map[string]any{"channel": channel, "data": json.RawMessage(data)})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/publish", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "apikey "+testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
