package websocket_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/metrics"
)

// The history command pages forward and back from any position, and
// answers each kind of bad request with its own code.
func TestHistoryCommand(t *testing.T) {
	ts := startQuiet(t, hub.Config{})
	const channel = "history:pages"
	var epoch string
	for i := 1; i <= 5; i++ {
		pos, err := ts.hub.Publish(t.Context(), channel, []byte(strconv.Itoa(i)), hub.PublishRequest{Source: "api"})
		if err != nil {
			t.Fatal(err)
		}
		epoch = pos.Epoch
	}
	c := dial(t, ts, nil)
	c.connect()
	// A plain subscribe tells the position to recover from later.
	if res := c.subscribeResult(`{"channel":"` + channel + `"}`); num(res["offset"]) != 5 || res["epoch"] != epoch || res["recoverable"] != true {
		t.Fatalf("subscribe: %v, want offset 5 of %q, recoverable", res, epoch)
	}
	since := func(offset uint64, epoch string) string {
		return fmt.Sprintf(`"since":{"offset":%d,"epoch":%q}`, offset, epoch)
	}
	pages := []struct {
		name string
		args string
		want []uint64
	}{
		{"all", `"limit":10`, span(1, 5)},
		{"first page", `"limit":2`, span(1, 2)},
		{"next page", since(2, epoch) + `,"limit":2`, span(3, 4)},
		{"last page", since(4, epoch) + `,"limit":2`, span(5, 5)},
		{"after the newest", since(5, epoch) + `,"limit":2`, nil},
		{"since in any epoch", since(3, "") + `,"limit":10`, span(4, 5)},
		{"newest first", `"limit":2,"reverse":true`, descending(5, 4)},
		{"back from a position", since(4, epoch) + `,"limit":10,"reverse":true`, descending(3, 1)},
		{"back from the oldest", since(1, epoch) + `,"limit":10,"reverse":true`, nil},
		{"limit 0: the position only", `"limit":0`, nil},
		{"no limit: the position only", `"reverse":true`, nil},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			res := c.result("history", `{"channel":"`+channel+`",`+tt.args+`}`)
			if got := offsets(res["publications"]); !slices.Equal(got, append([]uint64{}, tt.want...)) {
				t.Fatalf("offsets %v, want %v: %v", got, tt.want, res)
			}
			if _, ok := res["publications"].([]any); !ok {
				t.Fatalf("publications must be a list, even empty: %v", res)
			}
			for _, p := range res["publications"].([]any) {
				if p := p.(map[string]any); num(p["data"]) != num(p["offset"]) {
					t.Fatalf("publication %v", p)
				}
			}
			if num(res["offset"]) != 5 || res["epoch"] != epoch {
				t.Fatalf("position %v, want offset 5 of %q", res, epoch)
			}
		})
	}
	c.t = t

	c.subscribe("plain")
	errs := []struct {
		name string
		body string
		code herald.ErrorCode
	}{
		{"not subscribed", `{"channel":"history:other","limit":1}`, herald.ErrNotSubscribed},
		{"no history in the namespace", `{"channel":"plain","limit":1}`, herald.ErrNotAvailable},
		{"negative limit", `{"channel":"` + channel + `","limit":-1}`, herald.ErrBadRequest},
		{"another epoch", `{"channel":"` + channel + `",` + since(2, "0badc0de") + `,"limit":1}`, herald.ErrUnrecoverablePosition},
		{"beyond the newest", `{"channel":"` + channel + `",` + since(6, epoch) + `,"limit":1}`, herald.ErrUnrecoverablePosition},
		{"unknown namespace", `{"channel":"nope:x","limit":1}`, herald.ErrUnknownNamespace},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			errorCodeIs(t, c.call("history", tt.body), tt.code)
		})
	}
	c.t = t
}

// An ephemeral publication reaches subscribers without an offset, is not
// kept, and does not use up an offset: the next one is consecutive, and
// recovery across it is complete.
func TestEphemeralPublish(t *testing.T) {
	ts := startQuiet(t, hub.Config{})
	const channel = "history:typing"
	p, sub := dial(t, ts, nil), dial(t, ts, nil)
	p.connect()
	sub.connect()
	sub.subscribe(channel)

	if r := p.result("publish", `{"channel":"`+channel+`","data":1}`); num(r["offset"]) != 1 {
		t.Fatalf("publish: %v", r)
	}
	if r := p.result("publish", `{"channel":"`+channel+`","data":2,"ephemeral":true}`); len(r) != 0 {
		t.Fatalf("ephemeral publish: %v, want an empty reply", r)
	}
	if r := p.result("publish", `{"channel":"`+channel+`","data":3}`); num(r["offset"]) != 2 {
		t.Fatalf("publish after an ephemeral one: %v, want offset 2", r)
	}
	var got []string
	for range 3 {
		pub := pubPush(t, sub.next(), channel)
		got = append(got, fmt.Sprintf("%v@%v", pub["data"], pub["offset"]))
		if _, has := pub["epoch"]; has != (pub["offset"] != nil) {
			t.Fatalf("epoch without offset or the reverse: %v", pub)
		}
	}
	if want := []string{"1@1", "2@<nil>", "3@2"}; !slices.Equal(got, want) {
		t.Fatalf("subscriber got %v, want %v", got, want)
	}
	h := sub.result("history", `{"channel":"`+channel+`","limit":10}`)
	if got := offsets(h["publications"]); !slices.Equal(got, span(1, 2)) || num(h["offset"]) != 2 {
		t.Fatalf("history %v", h)
	}
	late := dial(t, ts, nil)
	late.connect()
	res := late.subscribeResult(recoverBody(channel, 1, h["epoch"].(string)))
	if res["recovered"] != true || !slices.Equal(offsets(res["publications"]), span(2, 2)) {
		t.Fatalf("recovery across an ephemeral publication: %v", res)
	}
}

// echo: false keeps a publication from its publisher's own connection
// only: every other subscriber gets it.
func TestPublishWithoutEcho(t *testing.T) {
	ts := startQuiet(t, hub.Config{})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.connect()
	b.connect()
	// Take the join pushes out of the way, each before the next subscribe,
	// as a join is published after the subscribe's reply is queued: a's
	// own, then b's to both.
	a.subscribe("chat:echo")
	if m := a.next(); m["join"] == nil {
		t.Fatalf("want a's join push: %v", m)
	}
	b.subscribe("chat:echo")
	for _, c := range []*client{a, b} {
		if m := c.next(); m["join"] == nil {
			t.Fatalf("want b's join push: %v", m)
		}
	}
	a.send(`{"id":10,"publish":{"channel":"chat:echo","data":"quiet","echo":false}}`)
	if r := a.next(); r["id"] != float64(10) || r["publish"] == nil {
		t.Fatalf("a got %v, want only the reply to its echo-less publish", r)
	}
	// With echo (the default) a's own publication comes back; had the
	// first one come back, it would come before it.
	a.send(`{"id":11,"publish":{"channel":"chat:echo","data":"loud"}}`)
	if p := ownPublication(t, a, "chat:echo", 11); p["data"] != "loud" {
		t.Fatalf("a got %v back, want only its echoed publication", p)
	}
	for _, want := range []string{"quiet", "loud"} {
		if p := pubPush(t, b.next(), "chat:echo"); p["data"] != want {
			t.Fatalf("b got %v, want %q", p, want)
		}
	}
}

// A connection that publishes faster than publish_rate gets 115 once its
// burst is spent, stays connected, and slows no other connection.
func TestPublishRateLimit(t *testing.T) {
	// One token per 1000 s: none comes back during the test, however slow.
	ts := startQuiet(t, hub.Config{PublishRate: 0.001, PublishBurst: 3})
	fast, other := dial(t, ts, nil), dial(t, ts, nil)
	fast.connect()
	other.connect()
	for i := range 3 {
		if r := fast.call("publish", `{"channel":"news","data":1}`); r["publish"] == nil {
			t.Fatalf("publish %d within the burst: %v", i+1, r)
		}
	}
	r := fast.call("publish", `{"channel":"news","data":1}`)
	errorCodeIs(t, r, herald.ErrTooManyRequests)
	if r["error"].(map[string]any)["temporary"] != true {
		t.Fatalf("115 is temporary: %v", r)
	}
	if r := other.call("publish", `{"channel":"news","data":1}`); r["publish"] == nil {
		t.Fatalf("another connection's own bucket: %v", r)
	}
	if r := fast.call("ping", `{}`); r["pong"] == nil {
		t.Fatalf("the limited connection must go on: %v", r)
	}
}

func TestRPC(t *testing.T) {
	ts := startQuiet(t, hub.Config{RPC: map[string]hub.RPCHandler{"echo": hub.EchoRPC}})
	c := dial(t, ts, nil)
	c.connect()
	res := c.result("rpc", `{"method":"echo","data":{"n":[1, 2]}}`)
	if fmt.Sprint(res["data"]) != "map[n:[1 2]]" {
		t.Fatalf("echo answered %v", res)
	}
	if res := c.result("rpc", `{"method":"echo"}`); len(res) != 0 {
		t.Fatalf("echo without data answered %v, want {}", res)
	}
	r := c.call("rpc", `{"method":"nope"}`)
	errorCodeIs(t, r, herald.ErrUnknownMethod)
	if msg := r["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "echo") {
		t.Fatalf("the error should name the known methods: %q", msg)
	}
}

// The server API subscribes a connection (a sub push, then its
// publications), unsubscribes it (an unsub push, then none) and
// disconnects it with the code given; other connections are untouched.
func TestServerSideSubscription(t *testing.T) {
	ts := startQuiet(t, hub.Config{})
	c, bystander := dial(t, ts, nil), dial(t, ts, nil)
	id := c.connectID()
	bystander.connect()
	c.subscribe("other")
	const channel = "history:srv"
	ctx := t.Context()

	if err := ts.hub.SubscribeTarget(ctx, hub.Target{Client: id}, channel); err != nil {
		t.Fatal(err)
	}
	m := c.next()
	sub, _ := m["sub"].(map[string]any)
	if m["channel"] != channel || sub == nil || sub["recoverable"] != true || sub["epoch"] == nil {
		t.Fatalf("got %v, want a sub push with the channel's position", m)
	}
	ts.publish(t, channel, `"one"`)
	if p := pubPush(t, c.next(), channel); p["data"] != "one" || num(p["offset"]) != 1 || p["epoch"] != sub["epoch"] {
		t.Fatalf("%v", p)
	}

	if err := ts.hub.UnsubscribeTarget(ctx, hub.Target{Client: id}, channel); err != nil {
		t.Fatal(err)
	}
	if m := c.next(); m["channel"] != channel || m["unsub"] == nil {
		t.Fatalf("got %v, want an unsub push", m)
	}
	ts.publish(t, channel, `"two"`)
	ts.publish(t, "other", `"still"`)
	if p := pubPush(t, c.next(), "other"); p["data"] != "still" {
		t.Fatalf("%v", p)
	}
	// The connection's own view agrees: it may subscribe again.
	c.subscribe(channel)

	if err := ts.hub.SubscribeTarget(ctx, hub.Target{}, channel); herald.AsError(err).Code != herald.ErrBadRequest {
		t.Fatalf("a target without client or user: %v", err)
	}
	d := herald.DisconnectForceDisconnect
	d.Reason = "banned"
	if err := ts.hub.DisconnectTarget(ctx, hub.Target{Client: id}, d); err != nil {
		t.Fatal(err)
	}
	push, _ := c.next()["disconnect"].(map[string]any)
	if push == nil || push["code"] != float64(d.Code) || push["reason"] != "banned" || push["reconnect"] != false {
		t.Fatalf("disconnect push %v, want code %d, reason banned, no reconnect", push, d.Code)
	}
	if got := c.closeStatus(); int(got) != int(d.Code) {
		t.Fatalf("close status %d, want %d", got, d.Code)
	}
	if r := bystander.call("ping", `{}`); r["pong"] == nil {
		t.Fatalf("bystander: %v", r)
	}
}

// Shutdown may be called while another Shutdown, or a session's end,
// signals that the hub is empty: Hub.signalEmpty once closed its channel
// without a lock, so two callers at once panicked with "close of closed
// channel" (seen first as a crash of TestRecoveryUnderLoadAtFullSpeed's
// cleanup racing its last connection's end; during a drain the panic came
// on timer goroutines and killed the process). Concurrent Shutdown calls
// are the shortest way to reach it; under -race it showed within a few
// hundred tries.
func TestConcurrentShutdownDoesNotPanic(t *testing.T) {
	m := metrics.New()
	for try := range 2000 {
		h := hub.New(hub.Config{Metrics: m}, memory.New())
		start := make(chan struct{})
		var wg sync.WaitGroup
		panics := make(chan any, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if p := recover(); p != nil {
						panics <- p
					}
				}()
				<-start
				_ = h.Shutdown(context.Background(), 0)
			}()
		}
		close(start)
		wg.Wait()
		select {
		case p := <-panics:
			t.Fatalf("try %d: Shutdown called from 4 goroutines at once: panic %v", try, p)
		default:
		}
	}
}
