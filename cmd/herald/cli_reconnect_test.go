package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/heraldrt/herald/internal/redistest"
)

// serveAt runs `herald serve --dev` on addr (to restart a node where its
// clients reconnect) and waits until it is ready.
func serveAt(t *testing.T, addr string, env []string, args ...string) *process {
	t.Helper()
	p := startHerald(t, env, append([]string{"serve", "--dev", "--listen", addr, "--api-key", testAPIKey}, args...)...)
	waitReady(t, "http://"+addr, http.StatusOK)
	return p
}

// kill ends a server at once, as a crash does: no disconnect push, no
// close frame.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

func interrupt(t *testing.T, p *process) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("herald %s exited %d on interrupt, want 0\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "), code, p.stderr)
	}
}

// TestSubThroughRestart: the server (memory broker) is killed and started
// again on the same address under a running `herald sub`, which says so,
// reconnects, says that the history did not survive (a new epoch), and
// prints what is published after the restart.
func TestSubThroughRestart(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	base := "http://" + addr
	server := serveAt(t, addr, nil)
	sub := startHerald(t, nil, "sub", base, "news")
	sub.waitFor(t, sub.stderr, "the subscription", hasAll("herald sub: subscribed to news at offset 0"))
	before := publishOK(t, base, "news", `"before"`)
	sub.waitFor(t, sub.stdout, "the first publication", hasLines(1))

	server.kill(t)
	sub.waitFor(t, sub.stderr, "the loss", hasAll("herald sub: connection lost (transport closed"))
	serveAt(t, addr, nil)
	sub.waitFor(t, sub.stderr, "the recovery outcome", hasAll("herald sub: reconnected after ",
		"herald sub: resubscribed to news at offset 0, epoch ",
		"herald sub: recovered 0 publications of news (recovered: false)\n"))
	after := publishOK(t, base, "news", `"after"`)
	sub.waitFor(t, sub.stdout, "the publication after the restart", hasLines(2))
	checkPubLines(t, sub.stdout.lines(), []pubLine{
		{Channel: "news", Offset: before.Offset, Epoch: before.Epoch, Data: json.RawMessage(`"before"`)},
		{Channel: "news", Offset: after.Offset, Epoch: after.Epoch, Data: json.RawMessage(`"after"`)},
	})
	interrupt(t, sub)
}

// TestSubRecoversAcrossRestart: two nodes on a real redis-server; `herald
// sub` on node A, publications through node B. A is killed, B publishes
// while it is down, A starts again: sub reconnects to it and recovers
// what it missed from the history in Redis, then gets the live ones,
// each exactly once and in order.
func TestSubRecoversAcrossRestart(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	redis := []string{"--broker", "redis", "--redis-address", r.Addr}
	addrA := freeAddr(t)
	a := serveAt(t, addrA, nil, redis...)
	b, _ := startServerArgs(t, nil, redis...)
	waitReady(t, b, http.StatusOK)

	sub := startHerald(t, nil, "sub", "http://"+addrA, "news")
	sub.waitFor(t, sub.stderr, "the subscription", hasAll("herald sub: subscribed to news"))
	var want []pubLine
	pub := func(data string) {
		r := publishOK(t, b, "news", data)
		want = append(want, pubLine{Channel: "news", Offset: r.Offset, Epoch: r.Epoch, Data: json.RawMessage(data)})
	}
	pub(`1`)
	sub.waitFor(t, sub.stdout, "the first publication", hasLines(1))

	a.kill(t)
	sub.waitFor(t, sub.stderr, "the loss", hasAll("herald sub: connection lost"))
	pub(`2`)
	pub(`3`)
	serveAt(t, addrA, nil, redis...)
	sub.waitFor(t, sub.stderr, "the recovery", hasAll("herald sub: reconnected after ",
		"herald sub: recovered 2 publications of news (recovered: true)\n"))
	pub(`4`)
	sub.waitFor(t, sub.stdout, "every publication", hasLines(4))
	checkPubLines(t, sub.stdout.lines(), want)
	if s := sub.stderr.String(); strings.Contains(s, "gap") {
		t.Fatalf("herald sub reported a gap:\n%s", s)
	}
	interrupt(t, sub)
}

// TestSubReportsServerDisconnect: a shutdown (4000, reconnect) is shown
// with its code and reason and sub keeps trying; a disconnect through the
// server API (4503, do not reconnect) ends sub with status 1.
func TestSubReportsServerDisconnect(t *testing.T) {
	t.Parallel()
	base, server := startServer(t, "HERALD_SHUTDOWN_DRAIN=100ms")
	wsURL := strings.Replace(base, "http://", "ws://", 1) + "/connection/websocket"

	sub := startHerald(t, nil, "sub", wsURL, "news")
	sub.waitFor(t, sub.stderr, "the subscription", hasAll("subscribed to news"))
	if err := server.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sub.waitFor(t, sub.stderr, "the disconnect and a failed reconnect", hasAll(
		"herald sub: connection lost (4000 server shutting down); reconnecting\n",
		"herald sub: reconnect failed: dial tcp ", "connection refused; retrying\n"))
	interrupt(t, sub)
	if sub.stdout.String() != "" {
		t.Fatalf("herald sub printed %q on stdout, want nothing", sub.stdout)
	}

	base, _ = startServer(t)
	sub = startHerald(t, nil, "sub", base, "news")
	sub.waitFor(t, sub.stderr, "the subscription", hasAll("subscribed to news"))
	var presence struct {
		Presence map[string]json.RawMessage `json:"presence"`
	}
	apiPost(t, base, "presence", `{"channel":"news"}`, &presence)
	if len(presence.Presence) != 1 {
		t.Fatalf("presence of news: %v, want sub alone", presence.Presence)
	}
	for id := range presence.Presence {
		apiPost(t, base, "disconnect", `{"client":"`+id+`"}`, nil)
	}
	if code := sub.wait(t); code != 1 {
		t.Fatalf("herald sub exited %d after a disconnect through the API, want 1\nstderr:\n%s", code, sub.stderr)
	}
	if s := sub.stderr.String(); !strings.Contains(s, "herald sub: disconnected with 4503: disconnected by the server\n") {
		t.Fatalf("herald sub stderr does not give the disconnect code and reason:\n%s", s)
	}
}

// apiPost calls a server API method and decodes its answer into out.
func apiPost(t *testing.T, base, method, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/"+method, strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/%s: %s %s", method, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST /api/%s: %v: %s", method, err, b)
		}
	}
}

// TestTraceThroughRestart: the node under a running `herald trace` is
// killed and started again; trace says the stream ended, follows it again
// and prints the new node's trace_started. A wrong secret still ends it.
func TestTraceThroughRestart(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	env := []string{"HERALD_ADMIN_SECRET=" + testAdminSecret, "HERALD_NAME=node-r"}
	server := serveAt(t, addr, env)
	tr := startHerald(t, []string{"HERALD_ADMIN_SECRET=" + testAdminSecret}, "trace", "http://"+addr, "--user", "alice")
	tr.waitFor(t, tr.stdout, "the trace to start", hasAll("node-r event trace_started"))

	server.kill(t)
	tr.waitFor(t, tr.stderr, "the end of the stream", hasAll("; reconnecting\n"))
	serveAt(t, addr, env)
	tr.waitFor(t, tr.stdout, "the trace to start again", func(s string) bool { return strings.Count(s, "node-r event trace_started") == 2 })
	interrupt(t, tr)

	_, stderr, code := runHerald(t, []string{"HERALD_ADMIN_SECRET=wrong"}, "", "trace", "http://"+addr, "--user", "alice")
	if code != 1 || !strings.Contains(stderr, "herald trace: 40") {
		t.Fatalf("herald trace with a wrong secret: exit %d, want 1 with the HTTP status\nstderr:\n%s", code, stderr)
	}
}
