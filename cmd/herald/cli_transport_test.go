package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestTransportFlag: sub and check work over the HTTP fallbacks of a real
// `herald serve`, and a transport it does not speak is a usage error.
func TestTransportFlag(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	withKey := []string{"HERALD_API_KEY=" + testAPIKey}
	for _, tr := range []string{"sse", "http_stream"} {
		t.Run(tr, func(t *testing.T) {
			stdout, stderr, code := runHerald(t, withKey, "", "check", "--transport", tr, "--subscribe", "_health_"+tr, base)
			re := regexp.MustCompile(`^ok: ws://\S+ connect \d+\.\d\d?ms, ping \d+\.\d\d?ms \(over ` + tr + `\), publish→receive \d+\.\d\d?ms\n$`)
			if code != 0 || !re.MatchString(stdout) {
				t.Fatalf("herald check --transport %s: exit %d, printed %q\nstderr:\n%s", tr, code, stdout, stderr)
			}

			sub := startHerald(t, nil, "sub", "--transport", tr, base, "news_"+tr)
			sub.waitFor(t, sub.stderr, "the subscription", hasAll("subscribed to news_"+tr))
			r := publishOK(t, base, "news_"+tr, `{"over":"`+tr+`"}`)
			sub.waitFor(t, sub.stdout, "the publication", hasLines(1))
			checkPubLines(t, sub.stdout.lines(), []pubLine{{Channel: "news_" + tr, Offset: r.Offset, Epoch: r.Epoch, Data: json.RawMessage(`{"over":"` + tr + `"}`)}})
			if err := sub.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			if code := sub.wait(t); code != 0 {
				t.Fatalf("herald sub --transport %s exited %d on interrupt\nstderr:\n%s", tr, code, sub.stderr)
			}
		})
	}
	for _, args := range [][]string{{"sub", "--transport", "carrier_pigeon", base, "news"}, {"check", "--transport", "carrier_pigeon", base}} {
		_, stderr, code := runHerald(t, nil, "", args...)
		if code != 2 || !strings.Contains(stderr, "websocket, sse or http_stream") {
			t.Fatalf("herald %s: exit %d, want 2\nstderr:\n%s", args, code, stderr)
		}
	}
}
