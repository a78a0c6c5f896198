package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/protocol"
)

// TestTap watches a channel with history: the presence count, the last
// publications kept, then live publications, a join and a leave, in that
// order, each once, and never tap's own join.
func TestTap(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	for i := 1; i <= 3; i++ {
		publishOK(t, base, "news", fmt.Sprint(i))
	}

	tap := startHerald(t, []string{"HERALD_API_KEY=" + testAPIKey}, "tap", "--api", base, "--history", "2", "news")
	tap.waitFor(t, tap.stderr, "the subscription", hasAll("herald tap: subscribed to news"))
	tap.waitFor(t, tap.stdout, "the start", hasLines(3))
	publishOK(t, base, "news", `{"text":"hi"}`)
	tap.waitFor(t, tap.stdout, "the live publication", hasLines(4))

	sub := startHerald(t, nil, "sub", base, "news")
	sub.waitFor(t, sub.stderr, "the subscription", hasAll("subscribed to news"))
	tap.waitFor(t, tap.stdout, "the join", hasLines(5))
	if err := sub.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	sub.wait(t)
	tap.waitFor(t, tap.stdout, "the leave", hasLines(6))
	if err := tap.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := tap.wait(t); code != 0 {
		t.Fatalf("herald tap exited %d on interrupt, want 0\nstderr:\n%s", code, tap.stderr)
	}

	const ts = `\d\d:\d\d:\d\d\.\d{3} news `
	want := []string{
		ts + `presence clients=0 users=0`,
		ts + `history #2 2`,
		ts + `history #3 3`,
		ts + `pub #4 \{"text":"hi"\}`,
		ts + `join client=([0-9a-f]+)`,
		ts + `leave client=([0-9a-f]+)`,
	}
	lines := tap.stdout.lines()
	if len(lines) != len(want) {
		t.Fatalf("herald tap printed %d lines, want %d:\n%s", len(lines), len(want), tap.stdout)
	}
	var clients []string
	for i, l := range lines {
		m := regexp.MustCompile(`^` + want[i] + `$`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %d is %q, want it to match %q\nall:\n%s", i+1, l, want[i], tap.stdout)
		}
		if len(m) > 1 {
			clients = append(clients, m[1])
		}
	}
	if clients[0] != clients[1] {
		t.Fatalf("join of %s, leave of %s: want the same client", clients[0], clients[1])
	}
}

// TestTapJSON checks tap's JSON lines and that publications between the
// history and the subscription are neither lost nor doubled.
func TestTapJSON(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	for i := 1; i <= 2; i++ {
		publishOK(t, base, "news", fmt.Sprint(i))
	}
	tap := startHerald(t, nil, "tap", "--json", "--api", base, "--key", testAPIKey, "--history", "10", "news", "other")
	tap.waitFor(t, tap.stderr, "both subscriptions", hasLines(2))
	publishOK(t, base, "news", `3`)
	tap.waitFor(t, tap.stdout, "the live publication", hasLines(5))
	if err := tap.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := tap.wait(t); code != 0 {
		t.Fatalf("herald tap --json exited %d on interrupt, want 0\nstderr:\n%s", code, tap.stderr)
	}

	for _, e := range jsonLines(t, tap.stderr.String()) {
		if e["event"] != "subscribed" {
			t.Fatalf("status line %v, want only subscribed events", e)
		}
	}
	type line struct {
		Time       time.Time       `json:"time"`
		Channel    string          `json:"channel"`
		Event      string          `json:"event"`
		Offset     uint64          `json:"offset"`
		Data       json.RawMessage `json:"data"`
		NumClients *int            `json:"num_clients"`
	}
	var got []string
	for _, l := range tap.stdout.lines() {
		var x line
		if err := json.Unmarshal([]byte(l), &x); err != nil || x.Time.IsZero() {
			t.Fatalf("line %q: %v, or no time", l, err)
		}
		s := fmt.Sprintf("%s %s %d %s", x.Channel, x.Event, x.Offset, x.Data)
		if x.NumClients != nil {
			s += fmt.Sprint(" clients=", *x.NumClients)
		}
		got = append(got, s)
	}
	want := []string{"news presence_stats 0  clients=0", "other presence_stats 0  clients=0", "news history 1 1", "news history 2 2", "news pub 3 3"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("herald tap --json printed\n%s\nwant\n%s\nraw:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), tap.stdout)
	}
}

func TestTapErrors(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)

	stdout, stderr, code := runHerald(t, nil, "", "tap", "--api", base, "--key", "wrong", "news")
	if code != 1 || !strings.Contains(stderr, "HTTP 401") || stdout != "" {
		t.Fatalf("herald tap with a wrong key: exit %d, want 1 naming HTTP 401 and no output\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	_, stderr, code = runHerald(t, nil, "", "tap", "--json", "--api", base, "--key", "wrong", "news")
	if errs := jsonLines(t, stderr); code != 1 || len(errs) != 1 || errs[0]["event"] != "error" {
		t.Fatalf("herald tap --json with a wrong key: exit %d, want 1 with one error event\nstderr:\n%s", code, stderr)
	}
	_, stderr, code = runHerald(t, nil, "", "tap", "--api", base, "--key", testAPIKey, "bad channel")
	if code != 1 || !strings.Contains(stderr, "109") {
		t.Fatalf("herald tap on a bad channel: exit %d, want 1 with code 109\nstderr:\n%s", code, stderr)
	}

	for _, args := range [][]string{
		{"tap"},
		{"tap", "--api", base, "--key", "k"},
		{"tap", "--key", "k", "news"},
		{"tap", "--api", base, "news"},
		{"tap", "--api", base, "--key", "k", "news:*"},
		{"tap", "--api", base, "--key", "k", "--history", "-1", "news"},
	} {
		_, stderr, code := runHerald(t, nil, "", args...)
		if code != 2 || !isUsageError(stderr, "tap") {
			t.Fatalf("herald %s: exit %d, want 2 with a one-line usage error\nstderr:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	stdout, _, code = runHerald(t, nil, "", "tap", "--help")
	if code != 0 || !strings.Contains(stdout, "no glob patterns") {
		t.Fatalf("herald tap --help: exit %d, want 0 saying there are no glob patterns\n%s", code, stdout)
	}
}

// TestTapPrinter covers what a dev server does not send: publications
// without an offset, users and info.
func TestTapPrinter(t *testing.T) {
	var w countingWriter
	at := time.Date(2026, 1, 2, 15, 4, 5, 6e6, time.Local)
	p := &tapPrinter{w: &w, self: "me", now: func() time.Time { return at }}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.pub("live", &protocol.PubPush{Data: json.RawMessage(`{ "a": "<&>" }`)}))
	must(p.joinLeave("chat", true, &protocol.ClientInfo{Client: "c1", User: "42", Info: json.RawMessage(`{"name": "Ann"}`)}))
	must(p.joinLeave("chat", true, &protocol.ClientInfo{Client: "me"}))
	must(p.joinLeave("chat", false, &protocol.ClientInfo{Client: "c1", User: "42"}))
	want := "15:04:05.006 live pub {\"a\":\"<&>\"}\n" +
		"15:04:05.006 chat join client=c1 user=42 info={\"name\":\"Ann\"}\n" +
		"15:04:05.006 chat leave client=c1 user=42\n"
	if got := w.buf.String(); got != want || w.n != 3 {
		t.Fatalf("printed in %d writes\n%s\nwant 3 writes of\n%s", w.n, got, want)
	}
}
