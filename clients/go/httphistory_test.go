package client_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/hub"
)

// recoverAfterMissing subscribes to channel, receives one publication,
// loses the server while missed more are published to the broker, and
// returns how the subscription came back, the events before that, and the
// publications: the first, then the next kept after the resubscribe.
func recoverAfterMissing(t *testing.T, s *server, channel string, missed, kept int) (first, again client.SubscribedEvent, before []any, pubs []client.Publication) {
	t.Helper()
	r := newRecorder()
	c := connect(t, s, r, nil)
	subscribe(t, c, channel, r, nil)
	first, _ = waitFor[client.SubscribedEvent](t, r, nil)
	s.publish(t, channel, `{"n":0}`)
	pubs = publications(t, r, 1)

	s.kill()
	waitFor[client.SubscribingEvent](t, r, nil)
	ns, _, _ := strings.Cut(channel, ":")
	for i := 1; i <= missed; i++ {
		if _, err := s.broker.Publish(context.Background(), channel, fmt.Appendf(nil, `{"n":%d}`, i), namespaces().Named[ns].Stream()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.restart(false); err != nil {
		t.Fatal(err)
	}
	again, before = waitFor[client.SubscribedEvent](t, r, nil)
	return first, again, before, append(pubs, publications(t, r, kept)...)
}

// wantNumbers checks that pubs are {"n":0} to {"n":last}, each once, in
// order, at offsets 1 to last+1.
func wantNumbers(t *testing.T, pubs []client.Publication, first, last int) {
	t.Helper()
	if len(pubs) != last-first+1 {
		t.Fatalf("%d publications, want %d (n = %d to %d)", len(pubs), last-first+1, first, last)
	}
	for i, p := range pubs {
		n := first + i
		if string(p.Data) != fmt.Sprintf(`{"n":%d}`, n) || p.Offset != uint64(n+1) {
			t.Fatalf("publication %d: offset %d data %s, want offset %d n %d", i, p.Offset, p.Data, n+1, n)
		}
	}
}

// Where the subscribe reply says history_http, the client reads what it
// missed from GET /history/ page by page (pages a cache may serve), then
// subscribes with recover from the last publication read, so that the
// server replays only what came after; the application sees every
// publication once, in order, after the Subscribed event.
func TestRecoverThroughHTTPHistory(t *testing.T) {
	s := newServer(t, hub.Config{})
	first, again, before, pubs := recoverAfterMissing(t, s, "feed:x", 250, 250)
	for _, e := range before {
		if _, ok := e.(client.Publication); ok {
			t.Fatalf("a publication before the Subscribed event: %v", before)
		}
	}
	if !again.WasRecovering || !again.Recovered || again.Epoch != first.Epoch || again.Offset != 251 {
		t.Fatalf("resubscribed: %+v, want recovered at offset 251 of epoch %s", again, first.Epoch)
	}
	wantNumbers(t, pubs, 0, 250)

	// Pages of 100 after offset 1: 2..101, 102..201 (final, cacheable),
	// and the open end 202..251; the channel escaped as the TypeScript
	// client escapes it, so that both hit the same cache entries.
	reads := s.historyReads()
	want := []string{`^/history/feed%3Ax\?epoch=[^&]+&since=1$`, `since=101$`, `since=201$`}
	if len(reads) != len(want) {
		t.Fatalf("history reads %q, want 3 pages", reads)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(reads[i]) {
			t.Errorf("history read %d: %q, want %s", i, reads[i], re)
		}
	}
}

// Without history_http the client recovers over the connection only; when
// GET /history/ fails, the subscribe recovers everything over the
// connection: one failed read, no retry loop.
func TestRecoverOverTheConnection(t *testing.T) {
	for _, c := range []struct {
		name, channel string
		down          bool
		reads         int
	}{
		{"without history_http", "history:x", false, 0},
		{"when GET /history/ fails", "feed:x", true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, hub.Config{})
			s.historyDown.Store(c.down)
			_, again, _, pubs := recoverAfterMissing(t, s, c.channel, 120, 120)
			if !again.Recovered {
				t.Fatalf("resubscribed: %+v, want recovered", again)
			}
			wantNumbers(t, pubs, 0, 120)
			if reads := s.historyReads(); len(reads) != c.reads {
				t.Fatalf("history reads %q, want %d", reads, c.reads)
			}
		})
	}
}

// A trimmed history: the page starts after a gap, nothing is taken from
// it, and the subscribe says not recovered, with what is kept.
func TestRecoverFromTrimmedHTTPHistory(t *testing.T) {
	s := newServer(t, hub.Config{})
	_, again, _, pubs := recoverAfterMissing(t, s, "small:x", 20, 5)
	if !again.WasRecovering || again.Recovered {
		t.Fatalf("resubscribed: %+v, want not recovered", again)
	}
	var ns []string
	for _, p := range pubs {
		ns = append(ns, string(p.Data))
	}
	if want := `[{"n":0} {"n":16} {"n":17} {"n":18} {"n":19} {"n":20}]`; fmt.Sprint(ns) != want {
		t.Fatalf("publications %v, want %s", ns, want)
	}
	if reads := s.historyReads(); len(reads) != 1 {
		t.Fatalf("history reads %q, want one", reads)
	}
}
