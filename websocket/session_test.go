package websocket_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/websocket"
)

func TestConnectSubscribeReceive(t *testing.T) {
	ts := startServer(t, hub.Config{Version: "test"}, websocket.Options{})
	c := dial(t, ts, nil)
	r := c.call("connect", `{}`)
	res := r["connect"].(map[string]any)
	if res["client"] == "" || res["version"] != "test" || res["ping"] != float64(25) || res["pong"] != true {
		t.Fatalf("connect reply %v", r)
	}
	c.subscribe("news")
	ts.publish(t, "news", `{"text":"hello"}`)
	push := c.next()
	pub, _ := push["pub"].(map[string]any)
	if push["channel"] != "news" || pub == nil || pub["data"].(map[string]any)["text"] != "hello" {
		t.Fatalf("push %v", push)
	}
	if _, has := pub["offset"]; has {
		t.Fatalf("a channel without history must not carry an offset: %v", push)
	}
}

func TestHistoryOffsetsAndEpoch(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	c.subscribe("history:room")
	var epoch any
	for i := 1; i <= 3; i++ {
		res := ts.publish(t, "history:room", fmt.Sprint(i))
		if res["offset"] != float64(i) {
			t.Fatalf("publish %d: %v", i, res)
		}
		pub := c.next()["pub"].(map[string]any)
		if pub["offset"] != float64(i) || pub["data"] != float64(i) || pub["epoch"] == "" {
			t.Fatalf("push %d: %v", i, pub)
		}
		if epoch != nil && pub["epoch"] != epoch {
			t.Fatalf("epoch changed from %v to %v", epoch, pub["epoch"])
		}
		epoch = pub["epoch"]
	}
}

func TestSeveralCommandsInOneFrame(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	c.send("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\r\n\n{\"id\":3,\"ping\":{}}")
	for id, key := range []string{"connect", "subscribe", "pong"} {
		r := c.next()
		if r["id"] != float64(id+1) || r[key] == nil {
			t.Fatalf("reply %d: %v, want %s", id+1, r, key)
		}
	}
}

func TestClientPublish(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.connect()
	b.connect()
	b.subscribe("chat")
	r := a.call("publish", `{"channel":"chat","data":{"typing":true}}`)
	if r["publish"] == nil {
		t.Fatalf("publish reply %v", r)
	}
	push := b.next()
	if push["pub"].(map[string]any)["data"].(map[string]any)["typing"] != true {
		t.Fatalf("push %v", push)
	}
}

// Each kind of bad input gets its stable code, the connection goes on, and
// another client's subscription is untouched.
func TestBadInput(t *testing.T) {
	ts := startServer(t, hub.Config{ChannelLimit: 2, MaxErrors: 1000}, websocket.Options{})
	other := dial(t, ts, nil)
	other.connect()
	other.subscribe("news")

	c := dial(t, ts, nil)
	if r := c.call("subscribe", `{"channel":"x"}`); errorCode(r) != herald.ErrNotConnected {
		t.Fatalf("subscribe before connect: %v", r)
	}
	c.connect()
	c.subscribe("a")
	tests := []struct {
		name  string
		frame string
		code  herald.ErrorCode
	}{
		{"malformed JSON", `{"id":10,"subscribe":`, herald.ErrBadRequest},
		{"not an object", `[1,2]`, herald.ErrBadRequest},
		{"unknown command", `{"id":11,"histroy":{}}`, herald.ErrUnknownCommand},
		{"wrong field type", `{"id":12,"subscribe":{"channel":5}}`, herald.ErrBadRequest},
		{"two commands in one message", `{"id":13,"ping":{},"connect":{}}`, herald.ErrBadRequest},
		{"connect twice", `{"id":14,"connect":{}}`, herald.ErrAlreadyConnected},
		{"subscribe twice", `{"id":15,"subscribe":{"channel":"a"}}`, herald.ErrAlreadySubscribed},
		{"invalid channel", `{"id":16,"subscribe":{"channel":"with space"}}`, herald.ErrInvalidChannel},
		{"empty channel", `{"id":17,"subscribe":{"channel":""}}`, herald.ErrInvalidChannel},
		{"channel too long", `{"id":18,"subscribe":{"channel":"` + strings.Repeat("x", 300) + `"}}`, herald.ErrInvalidChannel},
		{"unknown namespace", `{"id":19,"subscribe":{"channel":"nope:x"}}`, herald.ErrUnknownNamespace},
		{"publish not allowed", `{"id":20,"publish":{"channel":"readonly:x","data":1}}`, herald.ErrPermissionDenied},
		{"publish without data", `{"id":21,"publish":{"channel":"a"}}`, herald.ErrBadRequest},
		{"publish invalid data", `{"id":22,"publish":{"channel":"a","data":nope}}`, herald.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.frame)
			r := c.next()
			if got := errorCode(r); got != tt.code {
				t.Fatalf("got %v, want code %d (%s)", r, tt.code, tt.code.Name())
			}
			if msg, _ := r["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatalf("error without a message: %v", r)
			}
		})
	}
	c.t = t
	c.subscribe("b")
	if r := c.call("subscribe", `{"channel":"c"}`); errorCode(r) != herald.ErrLimitExceeded {
		t.Fatalf("channel limit: %v", r)
	}
	if r := c.call("ping", `{}`); r["pong"] == nil {
		t.Fatalf("the connection must go on after errors: %v", r)
	}
	ts.publish(t, "news", `"still here"`)
	if push := other.next(); push["pub"].(map[string]any)["data"] != "still here" {
		t.Fatalf("other client: %v", push)
	}
}

func TestMalformedIDIsEchoed(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	c.send(`{"id":7,"subscribe":{"channel":5}}`)
	if r := c.next(); r["id"] != float64(7) || errorCode(r) != herald.ErrBadRequest {
		t.Fatalf("%v", r)
	}
}

func TestTooManyErrorsDisconnects(t *testing.T) {
	ts := startServer(t, hub.Config{MaxErrors: 3}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	for range 3 {
		c.send(`garbage`)
	}
	if got := c.closeStatus(); int(got) != int(herald.DisconnectTooManyErrors.Code) {
		t.Fatalf("close status %d, want %d", got, herald.DisconnectTooManyErrors.Code)
	}
}

// TestTooManyErrorsRepliesArriveFirst: every error reply that counted
// towards the cut-off arrives, in order, before the 4501 disconnect push
// and close, whether the bad commands come in one frame or one each.
func TestTooManyErrorsRepliesArriveFirst(t *testing.T) {
	const max = 20
	ts := startServer(t, hub.Config{MaxErrors: max}, websocket.Options{})
	for round := range 10 {
		c := dial(t, ts, nil)
		c.connect()
		var lines []string
		for i := 1; i <= max; i++ {
			lines = append(lines, `{"id":`+itoa(uint32(i))+`,"histroy":{}}`)
		}
		if round%2 == 0 {
			c.send(strings.Join(lines, "\n"))
		} else {
			for _, l := range lines {
				c.send(l)
			}
		}
		for i := 1; i <= max; i++ {
			r := c.next()
			if r["id"] != float64(i) || errorCode(r) != herald.ErrUnknownCommand {
				t.Fatalf("round %d: message %d is %v, want the error reply to id %d", round, i, r, i)
			}
		}
		d, _ := c.next()["disconnect"].(map[string]any)
		if d["code"] != float64(herald.DisconnectTooManyErrors.Code) {
			t.Fatalf("round %d: after %d error replies got %v, want the 4501 disconnect push", round, max, d)
		}
		if got := c.closeStatus(); int(got) != int(herald.DisconnectTooManyErrors.Code) {
			t.Fatalf("round %d: close status %d, want %d", round, got, herald.DisconnectTooManyErrors.Code)
		}
	}
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	c := dial(t, ts, nil)
	c.connect()
	c.subscribe("a")
	c.subscribe("b")
	if r := c.call("unsubscribe", `{"channel":"a"}`); r["unsubscribe"] == nil {
		t.Fatalf("%v", r)
	}
	if r := c.call("unsubscribe", `{"channel":"never"}`); r["unsubscribe"] == nil {
		t.Fatalf("unsubscribe must be idempotent: %v", r)
	}
	ts.publish(t, "a", `"dropped"`)
	ts.publish(t, "b", `"kept"`)
	if push := c.next(); push["channel"] != "b" {
		t.Fatalf("got %v after unsubscribing from a", push)
	}
}

// Publications from concurrent publishers reach every subscriber in one
// order: the order of their offsets.
func TestConcurrentPublishersOneOrder(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{})
	const subs, publishers, each = 3, 4, 50
	clients := make([]*client, subs)
	for i := range clients {
		clients[i] = dial(t, ts, nil)
		clients[i].connect()
		clients[i].subscribe("history:order")
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := ts.hub.Publish(t.Context(), "history:order", []byte(fmt.Sprintf(`"%d-%d"`, p, i)), hub.PublishRequest{Source: "api"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var first []any
	for ci, c := range clients {
		var got []any
		for n := 1; n <= publishers*each; n++ {
			pub := c.next()["pub"].(map[string]any)
			if pub["offset"] != float64(n) {
				t.Fatalf("client %d: offset %v at position %d", ci, pub["offset"], n)
			}
			got = append(got, pub["data"])
		}
		if first == nil {
			first = got
		} else if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Fatalf("client %d saw another order", ci)
		}
	}
}
