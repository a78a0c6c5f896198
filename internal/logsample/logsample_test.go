package logsample

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSampling(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil), Options{Burst: 3, Interval: time.Minute})
	now := time.Unix(1000, 0)
	h.st.now = func() time.Time { return now }
	log := slog.New(h).With("client", "c1")
	for range 100 {
		log.Error("publish failed", "channel", "news")
	}
	log.Error("another message")
	if n := strings.Count(buf.String(), "publish failed"); n != 3 {
		t.Fatalf("%d lines of the flood passed, want 3:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "another message") {
		t.Fatal("a different message was dropped with the flood")
	}
	buf.Reset()
	now = now.Add(time.Minute)
	log.Error("publish failed", "channel", "news")
	if got := buf.String(); !strings.Contains(got, "suppressed=97") || !strings.Contains(got, "client=c1") {
		t.Fatalf("the first line after the interval: %q, want suppressed=97 and the connection's attributes", got)
	}
}
