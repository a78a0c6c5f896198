package hub_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

// subscribedNode is a node that remembers which channels it is subscribed
// to on the broker, as Redis would.
type subscribedNode struct {
	*node
	mu  sync.Mutex
	chs map[string]bool
}

func (n *subscribedNode) Subscribe(ctx context.Context, ch string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.chs[ch] {
		panic("subscribed twice to " + ch)
	}
	n.chs[ch] = true
	return nil
}

func (n *subscribedNode) Unsubscribe(ctx context.Context, ch string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.chs[ch] {
		panic("unsubscribed from " + ch + " without a subscription")
	}
	delete(n.chs, ch)
	return nil
}

func (n *subscribedNode) subscribed(ch string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.chs[ch]
}

// waitSubscribed waits until the node's broker subscription to ch is want.
func (n *subscribedNode) waitSubscribed(t *testing.T, ch string, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.subscribed(ch) != want {
		if time.Now().After(deadline) {
			t.Fatalf("subscribed to %s on the broker: %v, want %v", ch, !want, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func nextLine(t *testing.T, lines <-chan hub.TapLine) hub.TapLine {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no tap line within 10s")
		return hub.TapLine{}
	}
}

// A tap sees the publications made on another node, keeps its node
// subscribed on the broker while subscribers come and go, is not counted
// as a subscriber, and lets the subscription go when it ends.
func TestTapSeesEveryNode(t *testing.T) {
	c := newCluster(t, 1, nil)
	other := c.hubs[0]
	sn := &subscribedNode{node: &node{sb: c.sb}, chs: map[string]bool{}}
	a := hub.New(hub.Config{Namespaces: herald.Namespaces{AnyNamespace: true}, Presence: c.presence, Auth: userAuth{},
		NodeInterval: 50 * time.Millisecond, SurveyTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, sn)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	waitNodes(t, a, 2)

	ctx, stop := context.WithCancel(context.Background())
	lines := make(chan hub.TapLine, 16)
	done := make(chan error, 1)
	go func() { done <- a.Tap(ctx, "news", lines) }()
	if l := nextLine(t, lines); l.Event != "tap_started" || l.Channel != "news" {
		t.Fatalf("first line %+v, want tap_started", l)
	}
	if !sn.subscribed("news") {
		t.Fatal("tap started and its node is not subscribed on the broker")
	}

	if _, err := other.Publish(context.Background(), "news", []byte(`{"n":1}`), hub.PublishRequest{Source: "api"}); err != nil {
		t.Fatal(err)
	}
	if l := nextLine(t, lines); string(l.Data) != `{"n":1}` || l.Channel != "news" {
		t.Fatalf("tap line %+v, want news {\"n\":1}", l)
	}

	// A subscriber on the tapping node comes and goes: the node stays
	// subscribed for the tap.
	r, s := connect(t, a, "ann", "news")
	s.HandleFrame([]byte(`{"id":9,"unsubscribe":{"channel":"news"}}`))
	r.waitLine(t, `"id":9,"unsubscribe"`)
	if !sn.subscribed("news") {
		t.Fatal("the last subscriber left and the node unsubscribed under the tap")
	}
	res, err := a.SurveyChannels(context.Background(), "news")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Channels) != 0 {
		t.Fatalf("channels with a tap and no subscriber: %+v, want none (a tap is not a subscriber)", res.Channels)
	}
	if _, err := other.Publish(context.Background(), "news", []byte(`{"n":2}`), hub.PublishRequest{Source: "api"}); err != nil {
		t.Fatal(err)
	}
	if l := nextLine(t, lines); string(l.Data) != `{"n":2}` {
		t.Fatalf("tap line %+v, want {\"n\":2}", l)
	}

	// The broker lost the stream: the tap is told.
	a.HandleStreamLoss("news")
	if l := nextLine(t, lines); l.Event != "publications_lost" {
		t.Fatalf("tap line after a stream loss %+v, want publications_lost", l)
	}

	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sn.waitSubscribed(t, "news", false)
}

// A reader that does not keep up loses publications, told how many in
// the next line; the fan-out never waits for it.
func TestTapDropsForASlowReader(t *testing.T) {
	c := newCluster(t, 1, nil)
	h := c.hubs[0]
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	lines := make(chan hub.TapLine, 1)
	go func() { _ = h.Tap(ctx, "feed", lines) }()
	nextLine(t, lines) // tap_started
	sub, _ := connect(t, h, "ann", "feed")
	// The subscriber sees each publication after the tap was fed.
	for _, data := range []string{`1`, `2`, `3`} {
		if _, err := h.Publish(context.Background(), "feed", []byte(data), hub.PublishRequest{Source: "api"}); err != nil {
			t.Fatal(err)
		}
		sub.waitLine(t, `"data":`+data)
	}
	if l := nextLine(t, lines); string(l.Data) != `1` || l.Dropped != 0 {
		t.Fatalf("first line %+v, want 1 with nothing dropped", l)
	}
	if _, err := h.Publish(context.Background(), "feed", []byte(`4`), hub.PublishRequest{Source: "api"}); err != nil {
		t.Fatal(err)
	}
	if l := nextLine(t, lines); string(l.Data) != `4` || l.Dropped != 2 {
		t.Fatalf("line after a full buffer %+v, want 4 with 2 dropped", l)
	}
}

// A tap of a channel the namespaces refuse is refused with their error.
func TestTapRefusesBadChannel(t *testing.T) {
	c := newCluster(t, 1, nil)
	err := c.hubs[0].Tap(context.Background(), "", make(chan hub.TapLine))
	if err == nil {
		t.Fatal("tap of an empty channel name: no error")
	}
}
