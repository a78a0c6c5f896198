package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// herald trace --user follows that user's connections on both nodes, in
// and out, with their timeline events, and shows nothing of another user
// and never a token.
func TestTraceUser(t *testing.T) {
	t.Parallel()
	a, b := startAdminNodes(t)
	tr := startHerald(t, []string{"HERALD_ADMIN_SECRET=" + testAdminSecret}, "trace", a, "--user", "alice")
	tr.waitFor(t, tr.stdout, "both nodes to start tracing", func(s string) bool {
		return strings.Contains(s, "node-a event trace_started") && strings.Contains(s, "node-b event trace_started")
	})

	var tokens []string
	connect := func(base, user string) *rawClient {
		tok := mintTest(t, user, time.Hour)
		tokens = append(tokens, tok)
		c := dialRaw(t, base)
		c.pong = true
		c.send(t, fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`+"\n"+`{"id":2,"subscribe":{"channel":"news"}}`, tok))
		c.readAll()
		return c
	}
	connect(a, "alice")
	connect(b, "alice")
	connect(a, "bob")
	connect(b, "bob")
	// Subscribed, not only connected: a publication before a subscribe
	// is not the subscriber's.
	waitFor(t, "four subscribers", func() bool {
		n := 0
		for _, c := range adminConnections(t, a, "").Connections {
			if len(c.Channels) == 1 && c.Channels[0] == "news" {
				n++
			}
		}
		return n == 4
	})
	if code, body := apiPublish(t, b, "news", `{"n":1}`); code != http.StatusOK {
		t.Fatalf("publish: %d %s", code, body)
	}

	tr.waitFor(t, tr.stdout, "alice's frames from both nodes", func(s string) bool {
		n := 0
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "user=alice") && strings.Contains(l, `{"channel":"news","pub":`) {
				n++
			}
		}
		return n == 2 &&
			strings.Contains(s, "node-a ") && strings.Contains(s, "node-b ") &&
			strings.Contains(s, `in  {"connect":{"token":"[redacted]"},"id":1}`) &&
			strings.Contains(s, "event subscribe news")
	})
	out := tr.stdout.String()
	if strings.Contains(out, "bob") {
		t.Errorf("the trace of alice shows bob:\n%s", out)
	}
	for _, tok := range tokens {
		if strings.Contains(out, tok) {
			t.Errorf("a token appears in the trace:\n%s", out)
		}
	}
	for _, node := range []string{"node-a", "node-b"} {
		if !strings.Contains(out, node+" ") || !strings.Contains(out, "user=alice out ") {
			t.Errorf("no frames out of alice's connection on %s:\n%s", node, out)
		}
	}
}
