package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/protocol"
)

// fakeConn is one connection to a scripted server, for what the real
// server never does (duplicates, gaps) and for checking the client's
// frames byte for byte.
type fakeConn struct {
	t   *testing.T
	ws  *cws.Conn
	ctx context.Context
}

// fakeServer runs script for every connection, in order; the n-th
// connection gets the n-th script (0-based), later ones the last.
func fakeServer(t *testing.T, scripts ...func(*fakeConn)) *httptest.Server {
	var conns atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := cws.Accept(w, r, &cws.AcceptOptions{Subprotocols: []string{"herald.json"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		n := int(conns.Add(1)) - 1
		scripts[min(n, len(scripts)-1)](&fakeConn{t: t, ws: ws, ctx: r.Context()})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// read returns the next frame's commands.
func (f *fakeConn) read() []*protocol.Command {
	_, frame, err := f.ws.Read(f.ctx)
	if err != nil {
		return nil
	}
	var cmds []*protocol.Command
	protocol.DecodeCommands(frame, func(cmd *protocol.Command, err *protocol.DecodeError) {
		if err != nil {
			f.t.Errorf("the client sent an invalid command: %v in %s", err, frame)
			return
		}
		cmds = append(cmds, cmd)
	})
	return cmds
}

func (f *fakeConn) send(lines ...string) {
	_ = f.ws.Write(f.ctx, cws.MessageText, []byte(strings.Join(lines, "\n")))
}

func (f *fakeConn) connect() {
	cmds := f.read()
	if len(cmds) != 1 || cmds[0].Connect == nil || cmds[0].Connect.Name != "herald-go" {
		f.t.Errorf("first frame: %v, want connect", cmds)
		return
	}
	b, _ := json.Marshal(&protocol.Reply{ID: cmds[0].ID, Connect: &protocol.ConnectResult{Client: "fake", Version: "0", Ping: 25, Pong: true}})
	f.send(string(b))
}

// idle reads until the client goes away.
func (f *fakeConn) idle() {
	for f.read() != nil {
	}
}

func reply(r *protocol.Reply) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// TestDuplicatesAndGaps: a publication at or below the last offset is
// dropped, one past the next offset is delivered with a GapError, and
// after a reconnect the client resubscribes with recover from the last
// offset and epoch it handled.
func TestDuplicatesAndGaps(t *testing.T) {
	resubscribed := make(chan *protocol.SubscribeRequest, 1)
	srv := fakeServer(t, func(f *fakeConn) {
		f.connect()
		cmds := f.read()
		if len(cmds) != 1 || cmds[0].Subscribe == nil || cmds[0].Subscribe.Recover {
			t.Errorf("subscribe frame: %v", cmds)
			return
		}
		f.send(
			reply(&protocol.Reply{ID: cmds[0].ID, Subscribe: &protocol.SubscribeResult{Offset: 0, Epoch: "e", Recoverable: true}}),
			`{"channel":"c","pub":{"offset":1,"epoch":"e","data":1}}`,
			`{"channel":"c","pub":{"offset":2,"epoch":"e","data":2}}`,
			`{"channel":"c","pub":{"offset":2,"epoch":"e","data":"dup"}}`,
			`{"channel":"c","pub":{"offset":1,"epoch":"e","data":"old"}}`,
			`{"channel":"c","pub":{"data":"ephemeral"}}`,
			`{"channel":"c","pub":{"offset":5,"epoch":"e","data":5}}`,
			`{"channel":"c","pub":{"offset":1,"epoch":"f","data":"f1"}}`,
			`{"channel":"c","pub":{"offset":3,"epoch":"f","data":"f3"}}`,
			`{"channel":"c","newpush":{"x":1}}`,
		)
		f.send(`{"disconnect":{"code":4000,"reason":"server shutting down","reconnect":true}}`)
		f.ws.Close(4000, "server shutting down")
	}, func(f *fakeConn) {
		f.connect()
		cmds := f.read()
		if len(cmds) != 1 || cmds[0].Subscribe == nil {
			t.Errorf("resubscribe frame: %v", cmds)
			return
		}
		resubscribed <- cmds[0].Subscribe
		f.send(
			reply(&protocol.Reply{ID: cmds[0].ID, Subscribe: &protocol.SubscribeResult{Offset: 4, Epoch: "f", Recoverable: true, Recovered: true,
				Publications: []protocol.PubPush{{Offset: 4, Data: json.RawMessage(`"f4"`)}}}}),
			`{"channel":"c","pub":{"offset":4,"epoch":"f","data":"dup"}}`,
			`{"channel":"c","pub":{"offset":5,"epoch":"f","data":"f5"}}`,
		)
		f.idle()
	})

	r := newRecorder()
	c := client.New(srv.URL, r.options(&client.Options{MinReconnectDelay: time.Millisecond}))
	defer c.Close()
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	sub, err := c.NewSubscription("c", r.subOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}

	var got []string
	var gaps []client.GapError
	for len(got) < 8 {
		select {
		case e := <-r.ch:
			switch e := e.(type) {
			case client.Publication:
				got = append(got, string(e.Data))
			case *client.GapError:
				gaps = append(gaps, *e)
			case client.ConnectingEvent:
				if e.Code != 4000 && e.Code != client.CodeConnectCalled {
					t.Fatalf("connecting %+v", e)
				}
			}
		case <-time.After(waitTimeout):
			t.Fatalf("publications so far: %v", got)
		}
	}
	want := []string{"1", "2", `"ephemeral"`, "5", `"f1"`, `"f3"`, `"f4"`, `"f5"`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("publications %v, want %v", got, want)
	}
	wantGaps := []client.GapError{{Channel: "c", Expected: 3, Got: 5, Epoch: "e"}, {Channel: "c", Expected: 2, Got: 3, Epoch: "f"}}
	if len(gaps) != 2 || gaps[0] != wantGaps[0] || gaps[1] != wantGaps[1] {
		t.Fatalf("gaps %+v, want %+v", gaps, wantGaps)
	}
	req := <-resubscribed
	if *req != (protocol.SubscribeRequest{Channel: "c", Recover: true, Offset: 3, Epoch: "f"}) {
		t.Fatalf("resubscribe %+v", req)
	}
	if pos, _ := sub.Position(); pos != (client.Position{Offset: 5, Epoch: "f"}) {
		t.Fatalf("position %+v", pos)
	}
}

// TestTemporarySubscribeError: a temporary refusal keeps the subscription
// Subscribing and retries it with backoff on the same connection.
func TestTemporarySubscribeError(t *testing.T) {
	srv := fakeServer(t, func(f *fakeConn) {
		f.connect()
		for i := 0; ; i++ {
			cmds := f.read()
			if cmds == nil {
				return
			}
			if cmds[0].Subscribe == nil {
				continue
			}
			if i < 2 {
				f.send(reply(&protocol.Reply{ID: cmds[0].ID, Error: &protocol.Error{Code: 114, Message: "broker down", Temporary: true}}))
				continue
			}
			f.send(reply(&protocol.Reply{ID: cmds[0].ID, Subscribe: &protocol.SubscribeResult{}}))
		}
	})
	r := newRecorder()
	c := client.New(srv.URL, r.options(&client.Options{MinReconnectDelay: time.Millisecond, MaxReconnectDelay: 10 * time.Millisecond}))
	defer c.Close()
	sub, err := c.NewSubscription("c", r.subOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		e, _ := waitFor[*client.SubscribeError](t, r, nil)
		if e.Channel != "c" || e.Err.Code != 114 {
			t.Fatalf("subscribe error %+v", e)
		}
	}
}

// TestNoPingAnnounced: a server that announces no ping (0) is not timed
// out: the connect timeout bounds only the wait for the connect reply.
func TestNoPingAnnounced(t *testing.T) {
	srv := fakeServer(t, func(f *fakeConn) {
		cmds := f.read()
		if len(cmds) != 1 || cmds[0].Connect == nil {
			return
		}
		f.send(reply(&protocol.Reply{ID: cmds[0].ID, Connect: &protocol.ConnectResult{Client: "fake", Version: "0", Ping: 0, Pong: true}}))
		// Quiet for longer than the client's connect timeout, then a
		// publication of a channel the server subscribed it to.
		time.Sleep(300 * time.Millisecond)
		f.send(`{"channel":"server-side","pub":{"data":"still here"}}`)
		f.idle()
	})
	got := make(chan client.Publication, 1)
	r := newRecorder()
	c := client.New(srv.URL, r.options(&client.Options{
		ConnectTimeout: 100 * time.Millisecond,
		OnPublication:  func(p client.Publication) { got <- p },
	}))
	defer c.Close()
	if err := c.Connect(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.Channel != "server-side" || string(p.Data) != `"still here"` {
			t.Fatalf("publication %+v", p)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no publication")
	}
	for len(r.ch) > 0 {
		if e, ok := (<-r.ch).(client.ConnectingEvent); ok && e.Code != client.CodeConnectCalled {
			t.Fatalf("reconnected: %+v", e)
		}
	}
}
