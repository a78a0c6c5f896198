package brokertest

import (
	"context"
	"testing"

	"github.com/heraldrt/herald"
)

// RunPresence runs the presence conformance suite. newPresence returns a
// new presence for one subtest, and releases what it holds with t.Cleanup.
// Channel names are unique per subtest, so instances may share a backend.
func RunPresence(t *testing.T, newPresence func(t *testing.T) herald.Presence) {
	tests := []struct {
		name string
		run  func(t *testing.T, p herald.Presence)
	}{
		{"Empty", testPresenceEmpty},
		{"AddListRemove", testPresenceAddListRemove},
		{"ReAddRefreshes", testPresenceReAddRefreshes},
		{"ChannelsIndependent", testPresenceChannelsIndependent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newPresence(t)) })
	}
}

// checkPresence checks the channel's entries and counts.
func checkPresence(t *testing.T, p herald.Presence, ch string, want []herald.ClientInfo, users int) {
	t.Helper()
	got, err := p.Presence(context.Background(), ch)
	if err != nil {
		t.Fatalf("Presence(%q): %v", ch, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Presence(%q) has %d entries %+v, want %d %+v", ch, len(got), got, len(want), want)
	}
	for _, c := range want {
		if g, ok := got[c.Client]; !ok || !SameClient(g, c) {
			t.Fatalf("Presence(%q)[%q] = %+v (present %t), want %+v", ch, c.Client, g, ok, c)
		}
	}
	stats, err := p.PresenceStats(context.Background(), ch)
	if err != nil {
		t.Fatalf("PresenceStats(%q): %v", ch, err)
	}
	if want := (herald.PresenceStats{NumClients: len(want), NumUsers: users}); stats != want {
		t.Fatalf("PresenceStats(%q) = %+v, want %+v", ch, stats, want)
	}
}

func add(t *testing.T, p herald.Presence, ch string, c herald.ClientInfo) {
	t.Helper()
	if err := p.AddPresence(context.Background(), ch, c); err != nil {
		t.Fatalf("AddPresence(%q, %+v): %v", ch, c, err)
	}
}

func remove(t *testing.T, p herald.Presence, ch, client string) {
	t.Helper()
	if err := p.RemovePresence(context.Background(), ch, client); err != nil {
		t.Fatalf("RemovePresence(%q, %q): %v", ch, client, err)
	}
}

func testPresenceEmpty(t *testing.T, p herald.Presence) {
	ch := uniqueName("presence-empty")
	checkPresence(t, p, ch, nil, 0)
	remove(t, p, ch, "nobody")
	checkPresence(t, p, ch, nil, 0)
}

// Users are distinct non-empty user ids: two connections of one user count
// once, anonymous connections not at all.
func testPresenceAddListRemove(t *testing.T, p herald.Presence) {
	ch := uniqueName("presence-list")
	ann1 := herald.ClientInfo{Client: "c1", User: "ann", Info: []byte(`{"device":"phone"}`)}
	ann2 := herald.ClientInfo{Client: "c2", User: "ann"}
	anon := herald.ClientInfo{Client: "c3"}
	bob := herald.ClientInfo{Client: "c4", User: "bob"}
	add(t, p, ch, ann1)
	add(t, p, ch, ann2)
	add(t, p, ch, anon)
	checkPresence(t, p, ch, []herald.ClientInfo{ann1, ann2, anon}, 1)
	add(t, p, ch, bob)
	checkPresence(t, p, ch, []herald.ClientInfo{ann1, ann2, anon, bob}, 2)
	remove(t, p, ch, ann1.Client)
	checkPresence(t, p, ch, []herald.ClientInfo{ann2, anon, bob}, 2)
	remove(t, p, ch, ann2.Client)
	checkPresence(t, p, ch, []herald.ClientInfo{anon, bob}, 1)
	remove(t, p, ch, "nobody")
	remove(t, p, ch, anon.Client)
	remove(t, p, ch, bob.Client)
	checkPresence(t, p, ch, nil, 0)
}

// Adding a client again replaces its entry.
func testPresenceReAddRefreshes(t *testing.T, p herald.Presence) {
	ch := uniqueName("presence-readd")
	before := herald.ClientInfo{Client: "c1", User: "ann", Info: []byte(`{"v":1}`)}
	after := herald.ClientInfo{Client: "c1", User: "ann", Info: []byte(`{"v":2}`)}
	add(t, p, ch, before)
	add(t, p, ch, after)
	checkPresence(t, p, ch, []herald.ClientInfo{after}, 1)
	remove(t, p, ch, "c1")
	checkPresence(t, p, ch, nil, 0)
}

func testPresenceChannelsIndependent(t *testing.T, p herald.Presence) {
	a, b := uniqueName("presence-a"), uniqueName("presence-b")
	inA := herald.ClientInfo{Client: "c1", User: "ann"}
	inB := herald.ClientInfo{Client: "c2", User: "bob"}
	both := herald.ClientInfo{Client: "c3", User: "cat"}
	add(t, p, a, inA)
	add(t, p, a, both)
	add(t, p, b, inB)
	add(t, p, b, both)
	checkPresence(t, p, a, []herald.ClientInfo{inA, both}, 2)
	checkPresence(t, p, b, []herald.ClientInfo{inB, both}, 2)
	remove(t, p, b, inA.Client) // not in b: a keeps it
	remove(t, p, b, both.Client)
	checkPresence(t, p, a, []herald.ClientInfo{inA, both}, 2)
	checkPresence(t, p, b, []herald.ClientInfo{inB}, 1)
}
