package redistest

import "testing"

// A server answers, comes back on the same port after Stop with its data
// gone, and a cluster forms.
func TestServerAndCluster(t *testing.T) {
	s := Start(t)
	s.Do("SET", "k", "v")
	if got := s.Do("GET", "k"); got != "v" {
		t.Fatalf("GET k = %q, want v", got)
	}
	s.Stop()
	if _, err := s.do("PING"); err == nil {
		t.Fatal("server answers after Stop")
	}
	s.Start()
	if got := s.Do("GET", "k"); got != "" {
		t.Fatalf("after a restart GET k = %q, want nothing", got)
	}
	c := StartCluster(t, 3)
	if got := c.Nodes[0].Do("CLUSTER", "INFO"); got == "" {
		t.Fatal("empty CLUSTER INFO")
	}
}

// A slot with a key moves to another master, and the key with it.
func TestMoveSlot(t *testing.T) {
	c := StartCluster(t, 3)
	const slot = 12182 // of "foo"
	from := c.Owner(t, slot)
	from.Do("SET", "foo", "bar")
	to := c.Nodes[0]
	if to == from {
		to = c.Nodes[1]
	}
	c.MoveSlot(t, slot, to)
	if got := c.Owner(t, slot); got != to {
		t.Fatalf("slot %d on %s after the move, want %s", slot, got.Addr, to.Addr)
	}
	if got := to.Do("GET", "foo"); got != "bar" {
		t.Fatalf("GET foo on the new owner = %q, want bar", got)
	}
}
