package memory

import (
	"context"
	"fmt"
	"testing"

	"github.com/heraldrt/herald"
)

func TestPresenceStatsCountsUsers(t *testing.T) {
	tests := []struct {
		name    string
		clients []herald.ClientInfo
		want    herald.PresenceStats
	}{
		{"none", nil, herald.PresenceStats{}},
		{"one user", []herald.ClientInfo{{Client: "c1", User: "ann"}}, herald.PresenceStats{NumClients: 1, NumUsers: 1}},
		{"one user on two connections", []herald.ClientInfo{{Client: "c1", User: "ann"}, {Client: "c2", User: "ann"}}, herald.PresenceStats{NumClients: 2, NumUsers: 1}},
		{"anonymous only", []herald.ClientInfo{{Client: "c1"}, {Client: "c2"}}, herald.PresenceStats{NumClients: 2}},
		{"mixed", []herald.ClientInfo{{Client: "c1", User: "ann"}, {Client: "c2"}, {Client: "c3", User: "bob"}, {Client: "c4", User: "ann"}}, herald.PresenceStats{NumClients: 4, NumUsers: 2}},
		{"re-added as another user", []herald.ClientInfo{{Client: "c1", User: "ann"}, {Client: "c1", User: "bob"}}, herald.PresenceStats{NumClients: 1, NumUsers: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPresence()
			for _, c := range tt.clients {
				if err := p.AddPresence(context.Background(), "ch", c); err != nil {
					t.Fatal(err)
				}
			}
			got, err := p.PresenceStats(context.Background(), "ch")
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
}

// A channel whose last client left costs nothing.
func TestPresenceFreesEmptyChannels(t *testing.T) {
	p := NewPresence()
	ctx := context.Background()
	for i := range 50 {
		ch := fmt.Sprint("ch", i)
		_ = p.AddPresence(ctx, ch, herald.ClientInfo{Client: "c1"})
		_ = p.AddPresence(ctx, ch, herald.ClientInfo{Client: "c2"})
		_ = p.RemovePresence(ctx, ch, "c1")
		_ = p.RemovePresence(ctx, ch, "c2")
	}
	for i := range p.stripes {
		if n := len(p.stripes[i].channels); n != 0 {
			t.Fatalf("stripe %d keeps %d empty channels", i, n)
		}
	}
	if got, _ := p.Presence(ctx, "ch1"); got == nil || len(got) != 0 {
		t.Fatalf("Presence of an empty channel: %#v, want an empty map", got)
	}
}

// The entry keeps its own copy of Info: the caller may reuse its buffer.
func TestPresenceCopiesInfo(t *testing.T) {
	p := NewPresence()
	info := []byte(`{"a":1}`)
	_ = p.AddPresence(context.Background(), "ch", herald.ClientInfo{Client: "c1", Info: info})
	copy(info, `{"b":2}`)
	got, _ := p.Presence(context.Background(), "ch")
	if string(got["c1"].Info) != `{"a":1}` {
		t.Fatalf("Info changed with the caller's buffer: %s", got["c1"].Info)
	}
}
