package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/hub"
)

func TestConnectSubscribeReceive(t *testing.T) {
	s := newServer(t, hub.Config{Version: "9.9.9"})
	r := newRecorder()
	c := connect(t, s, r, nil)
	e, _ := waitFor[client.ConnectedEvent](t, r, nil)
	if e.ClientID == "" || e.ServerVersion != "9.9.9" || e.PingInterval != 25*time.Second {
		t.Fatalf("connected event %+v", e)
	}
	if c.State() != client.Connected {
		t.Fatalf("state %v", c.State())
	}

	sub := subscribe(t, c, "history:news", r, nil)
	if sub.State() != client.Subscribed {
		t.Fatalf("subscription state %v", sub.State())
	}
	se, skipped := waitFor[client.SubscribedEvent](t, r, nil)
	if !se.Recoverable || se.WasRecovering || se.Offset != 0 || se.Epoch == "" {
		t.Fatalf("subscribed event %+v", se)
	}
	if len(skipped) != 1 || skipped[0] != (client.SubscribingEvent{Code: client.CodeSubscribeCalled, Reason: "subscribe called"}) {
		t.Fatalf("events before subscribed: %v", skipped)
	}

	for i := 1; i <= 3; i++ {
		s.publish(t, "history:news", fmt.Sprintf(`{"n":%d}`, i))
	}
	for i, p := range publications(t, r, 3) {
		want := fmt.Sprintf(`{"n":%d}`, i+1)
		if p.Channel != "history:news" || p.Offset != uint64(i+1) || p.Epoch != se.Epoch || string(p.Data) != want {
			t.Fatalf("publication %d: %+v, want offset %d data %s", i, p, i+1, want)
		}
	}
	if pos, ok := sub.Position(); !ok || pos.Offset != 3 {
		t.Fatalf("position %v %v", pos, ok)
	}
}

func TestSubscribeRefused(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	sub, err := c.NewSubscription("nope:x", r.subOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = sub.Subscribe(ctxTimeout(t))
	var e *client.Error
	if !errors.As(err, &e) || e.Code != uint32(herald.ErrUnknownNamespace) || e.Temporary {
		t.Fatalf("subscribe: %v, want error 102", err)
	}
	u, _ := waitFor[client.UnsubscribedEvent](t, r, nil)
	if u.Code != uint32(herald.ErrUnknownNamespace) {
		t.Fatalf("unsubscribed event %+v", u)
	}
	if sub.State() != client.Unsubscribed {
		t.Fatalf("state %v", sub.State())
	}
	if _, err := c.NewSubscription("nope:x", nil); !errors.Is(err, client.ErrDuplicateSubscription) {
		t.Fatalf("second subscription: %v", err)
	}
}

func TestUnsubscribe(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	sub := subscribe(t, c, "room", r, nil)
	if err := sub.Unsubscribe(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	u, _ := waitFor[client.UnsubscribedEvent](t, r, nil)
	if u.Code != client.CodeUnsubscribeCalled {
		t.Fatalf("unsubscribed event %+v", u)
	}
	// The server forgot the subscription: history needs one.
	_, err := c.Publish(ctxTimeout(t), "room", json.RawMessage(`1`))
	if err != nil {
		t.Fatal(err)
	}
	// Subscribe again, then prove that publications after it arrive, and
	// only those: the publish above was answered before its fan-out, and
	// if it is still in flight the new subscription must not get it.
	if err := sub.Subscribe(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	s.publish(t, "room", `2`)
	p, skipped := waitFor[client.Publication](t, r, nil)
	if string(p.Data) != `2` {
		t.Fatalf("publication %s, skipped %v", p.Data, skipped)
	}
	if err := c.RemoveSubscription(ctxTimeout(t), sub); err != nil {
		t.Fatal(err)
	}
	if c.Subscription("room") != nil {
		t.Fatal("subscription still registered")
	}
}

func TestCalls(t *testing.T) {
	s := newServer(t, hub.Config{})
	c := connect(t, s, nil, nil)
	other := connect(t, s, nil, nil)
	ctx := ctxTimeout(t)
	subscribe(t, c, "history:calls", nil, nil)
	subscribe(t, c, "chat:calls", nil, nil)
	subscribe(t, other, "chat:calls", nil, nil)

	res, err := c.Publish(ctx, "history:calls", json.RawMessage(`{"a":1}`))
	if err != nil || res.Offset != 1 || res.Epoch == "" {
		t.Fatalf("publish: %+v %v", res, err)
	}
	if _, err := c.Publish(ctx, "history:calls", json.RawMessage(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	res2, err := c.Publish(ctx, "chat:calls", json.RawMessage(`"hi"`))
	if err != nil || res2 != (client.PublishResult{}) {
		t.Fatalf("publish without history: %+v %v", res2, err)
	}

	h, err := c.History(ctx, "history:calls", client.HistoryOptions{Limit: 10})
	if err != nil || h.Offset != 2 || h.Epoch != res.Epoch || len(h.Publications) != 2 ||
		string(h.Publications[1].Data) != `{"a":2}` || h.Publications[1].Offset != 2 || h.Publications[1].Epoch != res.Epoch {
		t.Fatalf("history: %+v %v", h, err)
	}
	h, err = c.History(ctx, "history:calls", client.HistoryOptions{Since: &client.Position{Offset: 1, Epoch: res.Epoch}, Limit: 10})
	if err != nil || len(h.Publications) != 1 || h.Publications[0].Offset != 2 {
		t.Fatalf("history since 1: %+v %v", h, err)
	}

	p, err := c.Presence(ctx, "chat:calls")
	if err != nil || len(p) != 2 {
		t.Fatalf("presence: %v %v", p, err)
	}
	for id, ci := range p {
		if ci.Client != id || ci.User != "" {
			t.Fatalf("presence entry %s: %+v", id, ci)
		}
	}
	st, err := c.PresenceStats(ctx, "chat:calls")
	if err != nil || st != (client.PresenceStats{NumClients: 2, NumUsers: 0}) {
		t.Fatalf("presence stats: %+v %v", st, err)
	}

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}

	out, err := c.RPC(ctx, "echo", json.RawMessage(`{"x":[1,2]}`))
	if err != nil || string(out) != `{"x":[1,2]}` {
		t.Fatalf("rpc: %s %v", out, err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code herald.ErrorCode
	}{
		{"publish readonly", func() error { _, err := c.Publish(ctx, "readonly:x", json.RawMessage(`1`)); return err }, herald.ErrPermissionDenied},
		{"history unsubscribed", func() error { _, err := other.History(ctx, "history:calls", client.HistoryOptions{}); return err }, herald.ErrNotSubscribed},
		{"history off", func() error { _, err := c.History(ctx, "chat:calls", client.HistoryOptions{}); return err }, herald.ErrNotAvailable},
		{"presence off", func() error { _, err := c.Presence(ctx, "history:calls"); return err }, herald.ErrNotAvailable},
		{"rpc unknown", func() error { _, err := c.RPC(ctx, "nope", nil); return err }, herald.ErrUnknownMethod},
	} {
		var e *client.Error
		if err := tc.call(); !errors.As(err, &e) || e.Code != uint32(tc.code) || e.Message == "" {
			t.Errorf("%s: %v, want code %d", tc.name, err, tc.code)
		}
	}
	if _, err := c.Publish(ctx, "x", json.RawMessage(`{bad`)); err == nil {
		t.Error("publish of invalid JSON: no error")
	}
}

// TestCallWaitsForConnection: a call made before Connect waits for the
// connection rather than failing.
func TestCallWaitsForConnection(t *testing.T) {
	s := newServer(t, hub.Config{})
	c := client.New(s.URL(), nil)
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, err := c.RPC(ctxTimeout(t), "echo", json.RawMessage(`1`))
		done <- err
	}()
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("rpc: %v", err)
	}

	// A call whose context ends while it waits returns ctx's error.
	idle := client.New(s.URL(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := idle.RPC(ctx, "echo", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("rpc on an idle client: %v", err)
	}
	idle.Close()
	if _, err := idle.RPC(context.Background(), "echo", nil); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("rpc after Close: %v", err)
	}
}

func TestJoinLeave(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	subscribe(t, c, "chat:room", r, nil)
	r2 := newRecorder()
	other := connect(t, s, r2, nil)
	oc, _ := waitFor[client.ConnectedEvent](t, r2, nil)
	osub := subscribe(t, other, "chat:room", nil, nil)
	// A subscriber also gets its own join.
	waitFor[joinEvent](t, r, func(e joinEvent) bool { return e.Client == oc.ClientID })
	if err := osub.Unsubscribe(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	l, _ := waitFor[leaveEvent](t, r, nil)
	if l.Client != oc.ClientID {
		t.Fatalf("leave %+v, want %s", l, oc.ClientID)
	}
}

// TestConcurrentPublish publishes from many goroutines on one client: every
// call gets its own reply and every publication arrives once.
func TestConcurrentPublish(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	subscribe(t, c, "history:many", r, nil)
	const workers, each = 20, 50
	var wg sync.WaitGroup
	offsets := make(chan uint64, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				res, err := c.Publish(ctxTimeout(t), "history:many", json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				offsets <- res.Offset
			}
		})
	}
	wg.Wait()
	close(offsets)
	seen := map[uint64]bool{}
	for o := range offsets {
		if seen[o] {
			t.Fatalf("offset %d returned twice", o)
		}
		seen[o] = true
	}
	got := publications(t, r, workers*each)
	for i, p := range got {
		if p.Offset != uint64(i+1) {
			t.Fatalf("publication %d has offset %d", i, p.Offset)
		}
	}
}
