package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/internal/redistest"
)

// clientLog records what a Go client's subscription saw.
type clientLog struct {
	mu         sync.Mutex
	pubs       []client.Publication
	subscribed []client.SubscribedEvent
	gaps       int
	changed    chan struct{}
}

func (l *clientLog) record(f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds on the log.
func (l *clientLog) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// An end-to-end run of issue 9's failure behaviour: a Go client subscribed
// on node A, publications posted to node B without pause. First Redis
// drops every pub/sub connection (its data kept): node A catches up from
// history and the client sees every publication, with no reconnect. Then
// Redis is killed and started again empty: publishes fail meanwhile (503),
// node A makes the client reconnect, and its resubscribe says
// recovered: false, so every acknowledged publication is either delivered
// or covered by that. Counts are printed.
func TestServeRedisRecovery(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	// History deep enough for everything published while pub/sub is
	// down: a loss would then be the broker's fault.
	env := []string{"HERALD_CHANNEL_HISTORY_SIZE=100000", "HERALD_CHANNEL_HISTORY_TTL=5m"}
	a, pa := startServerArgs(t, env, "--broker", "redis", "--redis-address", r.Addr)
	defer func() {
		if t.Failed() {
			t.Logf("node a:\n%s", pa.stderr)
		}
	}()
	b, _ := startServerArgs(t, env, "--broker", "redis", "--redis-address", r.Addr)
	waitReady(t, a, http.StatusOK)
	waitReady(t, b, http.StatusOK)

	log := &clientLog{changed: make(chan struct{}, 1)}
	c := client.New("ws"+strings.TrimPrefix(a, "http")+"/connection/websocket", &client.Options{
		MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: 500 * time.Millisecond,
		OnError: func(err error) {
			if _, ok := errors.AsType[*client.GapError](err); ok {
				log.record(func() { log.gaps++ })
			}
		},
	})
	defer c.Close()
	sub, err := c.NewSubscription("news", &client.SubscriptionOptions{
		OnSubscribed:  func(e client.SubscribedEvent) { log.record(func() { log.subscribed = append(log.subscribed, e) }) },
		OnPublication: func(p client.Publication) { log.record(func() { log.pubs = append(log.pubs, p) }) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}

	p := redistest.StartPublisher(t, func(data []byte) (herald.StreamPosition, error) {
		status, body := apiPublishQuiet(b, "news", string(data))
		var pos herald.StreamPosition
		if status != http.StatusOK {
			return pos, fmt.Errorf("HTTP %d %s", status, body)
		}
		return pos, json.Unmarshal([]byte(body), &pos)
	})
	p.WaitAcked(t, 100)
	r.Do("CLIENT", "KILL", "TYPE", "pubsub")
	p.WaitAcked(t, 100)
	n := p.Count()
	log.waitFor(t, "every publication after the pub/sub connections were killed", func() bool { return len(log.pubs) >= n })
	log.mu.Lock()
	if len(log.subscribed) != 1 {
		t.Fatalf("the client subscribed %d times across the pub/sub reconnect, want once: %+v", len(log.subscribed), log.subscribed)
	}
	log.mu.Unlock()

	r.Stop()
	r.Start()
	// Publishing goes on until the client has subscribed again and some
	// publications came after that, which it must get live.
	log.waitFor(t, "the client's resubscribe", func() bool { return len(log.subscribed) >= 2 })
	p.WaitAcked(t, 100)
	acked, failed := p.Finish()
	last := acked[len(acked)-1]
	log.waitFor(t, "the last acknowledged publication", func() bool {
		n := len(log.pubs)
		return n > 0 && log.pubs[n-1].Offset == last.Offset && log.pubs[n-1].Epoch == last.Epoch
	})

	log.mu.Lock()
	defer log.mu.Unlock()
	delivered, dups := map[string]bool{}, 0
	for _, pub := range log.pubs {
		k := fmt.Sprintf("%s/%d", pub.Epoch, pub.Offset)
		if delivered[k] {
			dups++
		}
		delivered[k] = true
	}
	missing := 0
	for _, a := range acked {
		if !delivered[fmt.Sprintf("%s/%d", a.Epoch, a.Offset)] {
			missing++
		}
	}
	unrecovered := 0
	for _, e := range log.subscribed {
		if e.WasRecovering && !e.Recovered {
			unrecovered++
		}
	}
	t.Logf("published %d (%d refused with 503), delivered %d, missing %d, resubscribes %d (recovered: false %d), gaps reported %d, duplicates %d",
		len(acked), failed, len(log.pubs), missing, len(log.subscribed)-1, unrecovered, log.gaps, dups)
	if dups != 0 {
		t.Fatalf("%d publications delivered twice", dups)
	}
	if failed == 0 {
		t.Fatal("no publish was refused although Redis was down")
	}
	if missing > 0 && unrecovered == 0 && log.gaps == 0 {
		t.Fatalf("%d acknowledged publications were not delivered and the client was not told", missing)
	}
	// The client learns of the lost history either way: a resubscribe that
	// says recovered: false, or, when the node's pub/sub is back before its
	// subscribers are made to recover, the new epoch's first live
	// publication, which it reports as a gap.
	if unrecovered == 0 && log.gaps == 0 {
		t.Fatal("Redis lost the history, yet the client was told neither by a resubscribe with recovered: false nor by a gap")
	}
}
