package websocket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/websocket"
)

// seedFlag replays the random timing of a failed run: go test -run X -args -seed=N.
var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: a new one, logged)")

// testRand returns a seeded source and logs its seed, so that a failure
// can be replayed.
func testRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -args -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed>>32))
}

// featureNamespaces is the namespace set of the recovery, presence and
// feature tests.
func featureNamespaces() herald.Namespaces {
	return herald.Namespaces{
		Default: herald.NamespaceOptions{AllowPublish: true},
		Named: map[string]herald.NamespaceOptions{
			"history": {HistorySize: 10, HistoryTTL: time.Minute, AllowPublish: true},
			"small":   {HistorySize: 3, HistoryTTL: time.Minute},
			"big":     {HistorySize: 10000, HistoryTTL: time.Minute},
			"chat":    {Presence: true, JoinLeave: true, AllowPublish: true},
			"quiet":   {Presence: true},
		},
	}
}

// startQuiet is startServer with the namespaces of these tests.
func startQuiet(t *testing.T, cfg hub.Config) *testServer {
	t.Helper()
	if cfg.Namespaces.Named == nil {
		cfg.Namespaces = featureNamespaces()
	}
	return startServer(t, cfg, websocket.Options{})
}

// stop closes the server as its cleanup does, earlier: clients are told
// to reconnect, and the broker's history is gone with it.
func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ts.hub.Shutdown(ctx, 0)
	ts.Server.Close()
	if err := ts.hub.Close(); err != nil {
		t.Fatal(err)
	}
}

// dialPonging dials a client that answers the server's pings.
func dialPonging(t *testing.T, ts *testServer) *client {
	t.Helper()
	return dialClient(t, ts, nil, true)
}

// splitMessages decodes the JSON lines of one WebSocket message.
func splitMessages(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(data, []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("server sent invalid JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// connectID connects and returns the client id of the reply.
func (c *client) connectID() string {
	c.t.Helper()
	r := c.call("connect", `{}`)
	res, _ := r["connect"].(map[string]any)
	id, _ := res["client"].(string)
	if id == "" {
		c.t.Fatalf("connect: %v", r)
	}
	return id
}

// subscribeResult sends a subscribe with the given body and returns its
// result, failing on an error reply.
func (c *client) subscribeResult(body string) map[string]any {
	c.t.Helper()
	r := c.call("subscribe", body)
	res, _ := r["subscribe"].(map[string]any)
	if res == nil {
		c.t.Fatalf("subscribe %s: %v", body, r)
	}
	return res
}

// result sends a command and returns its result under key, failing on an
// error reply.
func (c *client) result(command, body string) map[string]any {
	c.t.Helper()
	r := c.call(command, body)
	res, _ := r[command].(map[string]any)
	if res == nil {
		c.t.Fatalf("%s %s: %v", command, body, r)
	}
	return res
}

// await returns the first message that matches, skipping the others, or
// fails after a generous deadline: for events whose timing the server
// decides (heartbeat cut-offs).
func (c *client) await(what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.in:
			if match(m) {
				return m
			}
		case <-c.done:
			c.t.Fatalf("connection ended while waiting for %s: %v", what, c.err)
		case <-deadline:
			c.t.Fatalf("no %s in 10s", what)
		}
	}
}

// pubPush returns the pub of a push on channel, failing on anything else.
func pubPush(t *testing.T, m map[string]any, channel string) map[string]any {
	t.Helper()
	pub, _ := m["pub"].(map[string]any)
	if pub == nil || m["channel"] != channel {
		t.Fatalf("got %v, want a publication in %s", m, channel)
	}
	return pub
}

// offsets lists the offsets of publications, as JSON gives them.
func offsets(pubs any) []uint64 {
	list, _ := pubs.([]any)
	out := []uint64{}
	for _, p := range list {
		off, _ := p.(map[string]any)["offset"].(float64)
		out = append(out, uint64(off))
	}
	return out
}

// span is the offsets from..to, or an empty list when from > to.
func span(from, to uint64) []uint64 {
	out := []uint64{}
	for o := from; o <= to; o++ {
		out = append(out, o)
	}
	return out
}

// descending is the offsets high down to low.
func descending(high, low uint64) []uint64 {
	out := span(low, high)
	slices.Reverse(out)
	return out
}

func num(v any) uint64 {
	f, _ := v.(float64)
	return uint64(f)
}

func recoverBody(channel string, offset uint64, epoch string) string {
	return fmt.Sprintf(`{"channel":%q,"recover":true,"offset":%d,"epoch":%q}`, channel, offset, epoch)
}

// errorCodeIs fails unless r is an error reply with code.
func errorCodeIs(t *testing.T, r map[string]any, code herald.ErrorCode) {
	t.Helper()
	if got := errorCode(r); got != code {
		t.Fatalf("got %v, want error %d (%s)", r, code, code.Name())
	}
	if msg, _ := r["error"].(map[string]any)["message"].(string); msg == "" {
		t.Fatalf("error without a message: %v", r)
	}
}
