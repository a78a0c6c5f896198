package websocket_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
)

const room = "chat:room"

// twoInRoom subscribes a (which answers pings) and then b to the room and
// checks what both see: a's join push for b, presence listing both by the
// ids of their connect replies, presence_stats counting two anonymous
// clients.
func twoInRoom(t *testing.T, a *client, b func() string) (aID, bID string) {
	t.Helper()
	aID = a.connectID()
	a.subscribe(room)
	// The join is published after the reply is queued: wait for a's own
	// so that it cannot come after b's.
	expectJoin(t, a, aID)
	bID = b()
	expectJoin(t, a, bID)
	checkPresence(t, a, aID, bID)
	return aID, bID
}

// expectJoin wants c's next message to be the room's join push for id.
func expectJoin(t *testing.T, c *client, id string) {
	t.Helper()
	m := c.next()
	if j, _ := m["join"].(map[string]any); m["channel"] != room || j == nil || j["client"] != id || j["user"] != "" {
		t.Fatalf("got %v, want the join push of client %s, user \"\"", m, id)
	}
}

// checkPresence asks for the room's presence and stats as c and wants
// exactly the clients ids, all anonymous.
func checkPresence(t *testing.T, c *client, ids ...string) {
	t.Helper()
	p, _ := c.result("presence", `{"channel":"`+room+`"}`)["presence"].(map[string]any)
	got := slices.Sorted(maps.Keys(p))
	if want := slices.Sorted(slices.Values(ids)); !slices.Equal(got, want) {
		t.Fatalf("presence lists %v, want %v", got, want)
	}
	for id, e := range p {
		if e := e.(map[string]any); e["client"] != id || e["user"] != "" {
			t.Fatalf("presence entry %s: %v", id, e)
		}
	}
	st := c.result("presence_stats", `{"channel":"`+room+`"}`)
	if num(st["num_clients"]) != uint64(len(ids)) || st["num_users"] != float64(0) {
		t.Fatalf("presence_stats %v, want %d clients and 0 users (anonymous)", st, len(ids))
	}
}

// awaitLeave waits for c's leave push for the client id; the leave comes
// after the presence entry is gone, so presence is checked at once.
func awaitLeave(t *testing.T, c *client, id string) {
	t.Helper()
	m := c.await("the leave of "+id, func(m map[string]any) bool { return m["leave"] != nil })
	if l := m["leave"].(map[string]any); m["channel"] != room || l["client"] != id || l["user"] != "" {
		t.Fatalf("leave push %v, want client %s", m, id)
	}
}

// A connection closed without a close frame leaves presence at once, with
// a leave push to the other subscribers.
func TestPresenceLeavesWhenConnectionDrops(t *testing.T) {
	ts := startQuiet(t, hub.Config{Presence: memory.NewPresence()})
	a := dialPonging(t, ts)
	b := dial(t, ts, nil)
	aID, bID := twoInRoom(t, a, func() string {
		id := b.connectID()
		b.subscribeResult(`{"channel":"` + room + `"}`)
		return id
	})
	b.conn.CloseNow()
	awaitLeave(t, a, bID)
	checkPresence(t, a, aID)
}

// A peer that vanished without closing (its network gone: it neither
// reads nor answers pings) is cut by the heartbeat and then leaves, while
// a peer that answers pings stays.
func TestPresenceLeavesWhenPeerStopsAnswering(t *testing.T) {
	ts := startQuiet(t, hub.Config{
		Presence:     memory.NewPresence(),
		PingInterval: 200 * time.Millisecond,
		PongTimeout:  200 * time.Millisecond,
	})
	a := dialPonging(t, ts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dead, _, err := cws.Dial(ctx, ts.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.CloseNow()
	aID, deadID := twoInRoom(t, a, func() string {
		// Read the two replies, then never read nor write again.
		if err := dead.Write(ctx, cws.MessageText, []byte("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\""+room+"\"}}")); err != nil {
			t.Fatal(err)
		}
		var id string
		for got := 0; got < 2; {
			_, data, err := dead.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range splitMessages(t, data) {
				if c, _ := m["connect"].(map[string]any); c != nil {
					id, _ = c["client"].(string)
				}
				if m["connect"] != nil || m["subscribe"] != nil {
					got++
				}
			}
		}
		return id
	})
	awaitLeave(t, a, deadID)
	checkPresence(t, a, aID)
}

// Unsubscribing leaves too; a namespace without join_leave sends no join
// push and keeps presence all the same.
func TestJoinLeaveOnUnsubscribeAndWithout(t *testing.T) {
	ts := startQuiet(t, hub.Config{Presence: memory.NewPresence()})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	aID := a.connectID()
	bID := b.connectID()
	a.subscribe(room)
	expectJoin(t, a, aID)
	b.subscribe(room)
	expectJoin(t, a, bID)
	expectJoin(t, b, bID)
	b.call("unsubscribe", `{"channel":"`+room+`"}`)
	if l, _ := a.next()["leave"].(map[string]any); l == nil || l["client"] != bID {
		t.Fatalf("b's leave: %v", l)
	}
	checkPresence(t, a, aID)

	// In quiet (presence without join_leave), the first push a gets after
	// b subscribes is the publication sent after that: no join between.
	a.subscribe("quiet:room")
	b.subscribe("quiet:room")
	ts.publish(t, "quiet:room", `"after"`)
	if p := pubPush(t, a.next(), "quiet:room"); p["data"] != "after" {
		t.Fatalf("%v", p)
	}
	st := a.result("presence_stats", `{"channel":"quiet:room"}`)
	if num(st["num_clients"]) != 2 {
		t.Fatalf("presence_stats in a namespace without join_leave: %v", st)
	}
}

// Presence is for subscribers of channels whose namespace keeps it, on a
// server that has a presence store.
func TestPresenceErrors(t *testing.T) {
	ts := startQuiet(t, hub.Config{Presence: memory.NewPresence()})
	c := dial(t, ts, nil)
	c.connect()
	c.subscribe("plain")
	for _, cmd := range []string{"presence", "presence_stats"} {
		errorCodeIs(t, c.call(cmd, `{"channel":"`+room+`"}`), herald.ErrNotSubscribed)
		errorCodeIs(t, c.call(cmd, `{"channel":"plain"}`), herald.ErrNotAvailable)
	}

	// The namespace asks for presence, but the server has no store.
	bare := startQuiet(t, hub.Config{})
	d := dial(t, bare, nil)
	d.connect()
	d.subscribe(room)
	if m := d.next(); m["join"] == nil {
		t.Fatalf("got %v, want its own join push", m)
	}
	for _, cmd := range []string{"presence", "presence_stats"} {
		errorCodeIs(t, d.call(cmd, `{"channel":"`+room+`"}`), herald.ErrNotAvailable)
	}
}
