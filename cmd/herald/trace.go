package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/heraldrt/herald/hub"
)

var traceCommand = &command{
	name:    "trace",
	summary: "stream the frames and timeline events of a user's, a client's or a channel's connections, on every node",
	run:     runTrace,
	flags:   func() *flag.FlagSet { fs, _ := traceFlags(); return fs },
}

const traceUsage = `Usage: herald trace URL (--user ID | --client ID | --channel C) [--secret S] [--json]

Streams every frame in and out of the matching connections of the Herald
cluster that URL's node belongs to, on every node (through the broker),
with the connections' timeline events, one line each:

  15:04:05.120 node-a 3b1f... user=42 in  {"id":1,"connect":{"token":"[redacted]"}}
  15:04:05.121 node-a 3b1f... user=42 event connect: user 42, credentials never expire
  15:04:05.121 node-a 3b1f... user=42 out {"id":1,"connect":{"client":"3b1f..."}}

Tokens are never shown, nor the values of the keys in admin.redact.
Connections that start while the trace runs are traced from their
connect; every node prints a trace_started event when it begins. The
admin secret (admin.secret) comes from --secret or HERALD_ADMIN_SECRET.

Examples:
  HERALD_ADMIN_SECRET=s herald trace http://127.0.0.1:8000 --user 42
  herald trace https://herald.internal --channel chat:lobby --json | jq .

When the stream ends (the node restarts, say), trace says so on stderr
and follows it again, with backoff, as sub reconnects.

Exit status: 0 when interrupted, 1 when the server refuses the trace (a
wrong secret, say) or cannot be reached at the start, 2 on bad usage.
`

type traceOptions struct {
	user, client, channel string
	secret                string
	json                  bool
}

func traceFlags() (*flag.FlagSet, *traceOptions) {
	o := new(traceOptions)
	fs := newCLIFlags("trace")
	fs.StringVar(&o.user, "user", "", "trace every connection of user `ID`")
	fs.StringVar(&o.client, "client", "", "trace the connection with client `ID`")
	fs.StringVar(&o.channel, "channel", "", "trace the connections subscribed to `CHANNEL`")
	fs.StringVar(&o.secret, "secret", "", "admin `secret` (default $HERALD_ADMIN_SECRET)")
	fs.BoolVar(&o.json, "json", false, "print the server's JSON lines as they come")
	return fs, o
}

func runTrace(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := traceFlags()
	if code, ok := parseCLIFlags(fs, args, traceUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, fs, "need exactly one URL")
	}
	n := 0
	for _, v := range []string{o.user, o.client, o.channel} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return usageError(stderr, fs, "give exactly one of --user, --client and --channel")
	}
	endpoint, err := apiURL(fs.Arg(0), "/admin/api/trace")
	if err != nil {
		return usageError(stderr, fs, err.Error())
	}
	q := url.Values{}
	for k, v := range map[string]string{"user": o.user, "client": o.client, "channel": o.channel} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.secret == "" {
		o.secret = os.Getenv("HERALD_ADMIN_SECRET")
	}
	if _, err := url.Parse(endpoint); err != nil {
		return usageError(stderr, fs, err.Error())
	}
	tr := &tracer{url: endpoint + "?" + q.Encode(), secret: o.secret, json: o.json, stdout: stdout, stderr: stderr}
	return tr.run(ctx)
}

// tracer follows the trace stream, and follows it again when it ends
// (the node restarted, say), as sub reconnects: the first request fails
// the tool, later ones are retried with backoff, at most
// cliMaxReconnectDelay apart.
type tracer struct {
	url, secret    string
	json           bool
	stdout, stderr io.Writer
}

func (tr *tracer) run(ctx context.Context) int {
	delay := 200 * time.Millisecond
	lastFail := ""
	for attempt := 0; ; attempt++ {
		streamed, refused, err := tr.stream(ctx)
		switch {
		case ctx.Err() != nil:
			return 0
		case refused || attempt == 0 && !streamed:
			// A refusal (a wrong secret, no admin API) or a server not
			// there at the start is for the person to fix.
			fmt.Fprintf(tr.stderr, "herald trace: %v\n", err)
			return 1
		case streamed:
			delay, lastFail = 200*time.Millisecond, ""
			fmt.Fprintf(tr.stderr, "herald trace: %v; reconnecting\n", err)
		case err.Error() != lastFail:
			lastFail = err.Error()
			fmt.Fprintf(tr.stderr, "herald trace: reconnect failed: %v; retrying\n", err)
		}
		t := time.NewTimer(time.Duration(rand.Int64N(int64(delay))) + delay/2)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0
		case <-t.C:
		}
		delay = min(2*delay, cliMaxReconnectDelay)
	}
}

// stream prints the trace until it ends, and says whether any of it came
// (streamed), whether the server refused it (an HTTP error), and why it
// ended.
func (tr *tracer) stream(ctx context.Context) (streamed, refused bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tr.url, nil)
	if err != nil {
		return false, true, err
	}
	if tr.secret != "" {
		req.Header.Set("Authorization", "admin "+tr.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		// 5xx may pass (a node starting); 4xx will not.
		return false, resp.StatusCode < 500, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		streamed = true
		if tr.json {
			fmt.Fprintln(tr.stdout, sc.Text())
			continue
		}
		var line hub.TraceLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			fmt.Fprintln(tr.stdout, sc.Text())
			continue
		}
		fmt.Fprintln(tr.stdout, formatTraceLine(line))
	}
	if err := sc.Err(); err != nil {
		return true, false, fmt.Errorf("the trace stream ended: %w", err)
	}
	return true, false, errors.New("the server ended the trace")
}

// formatTraceLine is one line for a person: time, node, who, then the
// frame or the event.
func formatTraceLine(l hub.TraceLine) string {
	var b strings.Builder
	b.WriteString(l.Time.Local().Format("15:04:05.000"))
	b.WriteString(" " + l.Node)
	if l.Client != "" {
		b.WriteString(" " + l.Client)
	}
	if l.User != "" {
		b.WriteString(" user=" + l.User)
	}
	if l.Dropped > 0 {
		fmt.Fprintf(&b, " (%d lines dropped before this one)", l.Dropped)
	}
	switch {
	case l.Event != nil:
		fmt.Fprintf(&b, " event %s", l.Event.Kind)
		if l.Event.Channel != "" {
			b.WriteString(" " + l.Event.Channel)
		}
		if l.Event.Code != 0 {
			fmt.Fprintf(&b, " code=%d", l.Event.Code)
		}
		if l.Event.Text != "" {
			b.WriteString(": " + l.Event.Text)
		}
	default:
		fmt.Fprintf(&b, " %-3s %s", l.Dir, l.Frame)
	}
	return b.String()
}
