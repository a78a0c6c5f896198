package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/hub"
)

// TestRecoverAfterRestart kills the server while a client is subscribed,
// publishes while it is down, and restarts it on the same port with the
// same broker (as with Redis): the client reconnects, recovers, and gets
// every publication exactly once, in order.
func TestRecoverAfterRestart(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	sub := subscribe(t, c, "history:feed", r, nil)
	first, _ := waitFor[client.SubscribedEvent](t, r, nil)

	n := 0
	publish := func(k int) {
		for range k {
			n++
			s.publish(t, "history:feed", fmt.Sprintf(`{"n":%d}`, n))
		}
	}
	publish(3)
	waitFor[client.Publication](t, r, func(p client.Publication) bool { return p.Offset == 3 })

	s.kill()
	lost, _ := waitFor[client.ConnectingEvent](t, r, nil)
	if lost.Code != client.CodeTransportClosed {
		t.Fatalf("connecting after a kill: %+v", lost)
	}
	waitFor[client.SubscribingEvent](t, r, func(e client.SubscribingEvent) bool { return e.Code == client.CodeTransportClosed })
	// While the server is down, the backend's publications land in the
	// broker's history only.
	for range 4 {
		n++
		if _, err := s.broker.Publish(context.Background(), "history:feed", fmt.Appendf(nil, `{"n":%d}`, n), namespaces().Named["history"].Stream()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.restart(false); err != nil {
		t.Fatal(err)
	}
	waitFor[client.ConnectedEvent](t, r, nil)
	re, _ := waitFor[client.SubscribedEvent](t, r, nil)
	if !re.WasRecovering || !re.Recovered || re.Epoch != first.Epoch || re.Offset != 7 || re.Publications != 4 {
		t.Fatalf("resubscribed: %+v, want 4 recovered up to offset 7 of epoch %s", re, first.Epoch)
	}
	publish(3)
	got := publications(t, r, 7)
	for i, p := range got {
		want := uint64(4 + i)
		if p.Offset != want || string(p.Data) != fmt.Sprintf(`{"n":%d}`, want) {
			t.Fatalf("publication %d after restart: %+v, want offset %d", i, p, want)
		}
	}
	if pos, _ := sub.Position(); pos.Offset != 10 {
		t.Fatalf("position %+v", pos)
	}
	select {
	case e := <-r.ch:
		t.Fatalf("unexpected event %#v", e)
	default:
	}
}

// TestRestartWithFreshBroker: the history is gone with the broker, the
// epoch changes, and the client is told it did not recover.
func TestRestartWithFreshBroker(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	subscribe(t, c, "history:feed", r, nil)
	first, _ := waitFor[client.SubscribedEvent](t, r, nil)
	s.publish(t, "history:feed", `1`)
	waitFor[client.Publication](t, r, nil)

	s.kill()
	waitFor[client.ConnectingEvent](t, r, nil)
	if err := s.restart(true); err != nil {
		t.Fatal(err)
	}
	re, _ := waitFor[client.SubscribedEvent](t, r, nil)
	if !re.WasRecovering || re.Recovered || re.Epoch == first.Epoch || re.Epoch == "" || re.Publications != 0 {
		t.Fatalf("resubscribed: %+v, first epoch %s", re, first.Epoch)
	}
	// Live publications of the new epoch arrive without a gap report.
	s.publish(t, "history:feed", `2`)
	p, skipped := waitFor[client.Publication](t, r, nil)
	if p.Offset != 1 || p.Epoch != re.Epoch || string(p.Data) != `2` {
		t.Fatalf("publication %+v", p)
	}
	for _, e := range skipped {
		if _, ok := e.(error); ok {
			t.Fatalf("error event %v", e)
		}
	}
}

// TestTerminalDisconnect: a code whose catalog entry says not to reconnect
// stops the client in Disconnected with that code.
func TestTerminalDisconnect(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	sub := subscribe(t, c, "room", r, nil)
	ce, _ := waitFor[client.ConnectedEvent](t, r, nil)
	if err := s.hub.DisconnectTarget(context.Background(), hub.Target{Client: ce.ClientID}, herald.DisconnectForceDisconnect); err != nil {
		t.Fatal(err)
	}
	d, skipped := waitFor[client.DisconnectedEvent](t, r, nil)
	if d.Code != uint32(herald.DisconnectForceDisconnect.Code) || d.Reason != herald.DisconnectForceDisconnect.Reason {
		t.Fatalf("disconnected: %+v", d)
	}
	for _, e := range skipped {
		if _, ok := e.(client.ConnectingEvent); ok {
			t.Fatalf("connecting before disconnected: %v", skipped)
		}
	}
	if c.State() != client.Disconnected || sub.State() != client.Subscribing {
		t.Fatalf("states %v %v", c.State(), sub.State())
	}
	dials := s.dials.Load()
	// Connect reports why the client stopped... once it is called again,
	// it starts over, and the subscription comes back with it.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.RPC(ctx, "echo", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("rpc while stopped: %v", err)
	}
	if got := s.dials.Load(); got != dials {
		t.Fatalf("the client dialled %d times after a terminal code", got-dials)
	}
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
}

// TestForceReconnect: a code that allows reconnecting is followed by a
// reconnect, reported with the server's code.
func TestForceReconnect(t *testing.T) {
	s := newServer(t, hub.Config{})
	r := newRecorder()
	c := connect(t, s, r, nil)
	subscribe(t, c, "room", r, nil)
	ce, _ := waitFor[client.ConnectedEvent](t, r, nil)
	if err := s.hub.DisconnectTarget(context.Background(), hub.Target{Client: ce.ClientID}, herald.DisconnectForceReconnect); err != nil {
		t.Fatal(err)
	}
	e, _ := waitFor[client.ConnectingEvent](t, r, nil)
	if e.Code != uint32(herald.DisconnectForceReconnect.Code) {
		t.Fatalf("connecting: %+v", e)
	}
	se, _ := waitFor[client.SubscribingEvent](t, r, nil)
	if se.Code != e.Code {
		t.Fatalf("subscribing: %+v", se)
	}
	again, _ := waitFor[client.ConnectedEvent](t, r, nil)
	if again.ClientID == ce.ClientID {
		t.Fatal("same client id after reconnecting")
	}
	waitFor[client.SubscribedEvent](t, r, nil)
}

// TestDeadServer: a server that answers connect with ping 1 and then goes
// silent is dead after 1s plus the grace; the client reconnects. On the
// way, the client answers the server's ping with a pong.
func TestDeadServer(t *testing.T) {
	var accepts atomic.Int64
	pongs := make(chan string, 1)
	quit := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := cws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		n := accepts.Add(1)
		ctx := r.Context()
		_, msg, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var cmd struct {
			ID uint32 `json:"id"`
		}
		_ = json.Unmarshal(msg, &cmd)
		reply := fmt.Sprintf(`{"id":%d,"connect":{"client":"fake%d","version":"0","ping":1,"pong":true}}`, cmd.ID, n)
		if ws.Write(ctx, cws.MessageText, []byte(reply)) != nil {
			return
		}
		if n == 1 {
			if ws.Write(ctx, cws.MessageText, []byte(`{"ping":{}}`)) != nil {
				return
			}
			if _, msg, err = ws.Read(ctx); err != nil {
				return
			}
			pongs <- string(msg)
		}
		// Silence: read until the client gives up on us.
		for {
			select {
			case <-quit:
				return
			default:
			}
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	defer close(quit)

	r := newRecorder()
	c := client.New(srv.URL, r.options(&client.Options{PingGrace: 100 * time.Millisecond, MinReconnectDelay: time.Millisecond}))
	defer c.Close()
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-pongs:
		if p != `{"pong":{}}` {
			t.Fatalf("answer to ping: %s", p)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no pong")
	}
	e, _ := waitFor[client.ConnectingEvent](t, r, func(e client.ConnectingEvent) bool { return e.Code != client.CodeConnectCalled })
	if e.Code != client.CodeNoPing {
		t.Fatalf("connecting: %+v", e)
	}
	again, _ := waitFor[client.ConnectedEvent](t, r, func(e client.ConnectedEvent) bool { return e.ClientID == "fake2" })
	if again.PingInterval != time.Second {
		t.Fatalf("connected again: %+v", again)
	}
}
