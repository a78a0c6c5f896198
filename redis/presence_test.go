package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/redis"
)

// Entries outlive their TTL while their node refreshes them; those of a
// node that stops (dies, without removing them) are gone within the TTL,
// counts included, while the other node's stay.
func TestPresenceOfDeadNodeExpires(t *testing.T) {
	s := redistest.Start(t)
	// Refreshes come every third of the TTL: a refresh may be late by
	// two thirds of it on a loaded machine before an entry would lapse.
	const ttl = 2 * time.Second
	opts := redis.Options{Addresses: []string{s.Addr}, PresenceTTL: ttl}
	a, err := redis.NewPresence(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := redis.NewPresence(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	const ch = "room"
	if err := a.AddPresence(ctx, ch, herald.ClientInfo{Client: "a1", User: "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPresence(ctx, ch, herald.ClientInfo{Client: "b1", User: "bob"}); err != nil {
		t.Fatal(err)
	}
	// Two TTLs: only refreshes keep the entries.
	time.Sleep(2 * ttl)
	if st, err := b.PresenceStats(ctx, ch); err != nil || st != (herald.PresenceStats{NumClients: 2, NumUsers: 2}) {
		t.Fatalf("after 2 TTLs with both nodes alive: %+v %v, want 2 clients of 2 users", st, err)
	}
	a.Close()
	stopped := time.Now()
	for {
		st, err := b.PresenceStats(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if st == (herald.PresenceStats{NumClients: 1, NumUsers: 1}) {
			break
		}
		if time.Since(stopped) > 30*time.Second {
			t.Fatalf("the dead node's entry is still counted 30s after it stopped: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the dead node's entry left after %s (TTL %s)", time.Since(stopped).Round(10*time.Millisecond), ttl)
	m, err := b.Presence(ctx, ch)
	if err != nil || len(m) != 1 || m["b1"].User != "bob" {
		t.Fatalf("presence after node a died: %+v %v, want only b1 of bob", m, err)
	}
}

// Entries added while Redis was down, or lost with it, come back with the
// next refresh.
func TestPresenceRefreshRestoresAfterRedisRestart(t *testing.T) {
	s := redistest.Start(t)
	p, err := redis.NewPresence(redis.Options{Addresses: []string{s.Addr}, PresenceTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.AddPresence(ctx, "room", herald.ClientInfo{Client: "c1", User: "ann"}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := p.AddPresence(ctx, "room", herald.ClientInfo{Client: "c2", User: "bob"}); err == nil {
		t.Fatal("AddPresence succeeded with Redis down")
	}
	s.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := p.PresenceStats(ctx, "room")
		if err == nil && st == (herald.PresenceStats{NumClients: 2, NumUsers: 2}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence after Redis came back: %+v %v, want both entries back", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
