package redistest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cli runs redis-cli against s with args and returns its output lines,
// failing the test on an error (redis-cli prints Redis errors as
// "(error) ..." or "ERR ..." with exit status 0 when not on a terminal).
func (s *Server) cli(t testing.TB, args ...string) []string {
	t.Helper()
	host, port, _ := strings.Cut(s.Addr, ":")
	out, err := exec.Command(lookRedis(t, "redis-cli"), append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil || strings.HasPrefix(text, "ERR") || strings.HasPrefix(text, "(error)") {
		t.Fatalf("redistest: redis-cli %s on %s: %v %s", strings.Join(args, " "), s.Addr, err, text)
	}
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// id is the node's cluster node ID.
func (s *Server) id(t testing.TB) string {
	t.Helper()
	return s.Do("CLUSTER", "MYID")
}

// Owner returns the master serving slot, as node 0 sees it.
func (c *Cluster) Owner(t testing.TB, slot int) *Server {
	t.Helper()
	for _, line := range c.Nodes[0].cli(t, "CLUSTER", "NODES") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.Contains(f[2], "master") {
			continue
		}
		for _, r := range f[8:] {
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && a <= slot && slot <= b {
				for _, n := range c.Nodes {
					if n.id(t) == f[0] {
						return n
					}
				}
			}
		}
	}
	t.Fatalf("redistest: no master serves slot %d", slot)
	return nil
}

// MoveSlot reshards slot to the master to while clients keep using it, as
// redis-cli --cluster reshard does for each slot: the target imports, the
// source migrates, the slot's keys go over with MIGRATE in batches, then
// every master is told the new owner.
func (c *Cluster) MoveSlot(t testing.TB, slot int, to *Server) {
	t.Helper()
	from := c.Owner(t, slot)
	if from == to {
		t.Fatalf("redistest: slot %d is on %s already", slot, to.Addr)
	}
	n := strconv.Itoa(slot)
	fromID, toID := from.id(t), to.id(t)
	to.cli(t, "CLUSTER", "SETSLOT", n, "IMPORTING", fromID)
	from.cli(t, "CLUSTER", "SETSLOT", n, "MIGRATING", toID)
	host, port, _ := strings.Cut(to.Addr, ":")
	for {
		keys := from.cli(t, "CLUSTER", "GETKEYSINSLOT", n, "100")
		if len(keys) == 0 {
			break
		}
		from.cli(t, append([]string{"MIGRATE", host, port, "", "0", "5000", "KEYS"}, keys...)...)
	}
	to.cli(t, "CLUSTER", "SETSLOT", n, "NODE", toID)
	from.cli(t, "CLUSTER", "SETSLOT", n, "NODE", toID)
	for _, s := range c.Nodes {
		if s != from && s != to {
			s.cli(t, "CLUSTER", "SETSLOT", n, "NODE", toID)
		}
	}
	deadline := time.Now().Add(startTimeout)
	for c.Owner(t, slot) != to {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: slot %d not on %s within %s", slot, to.Addr, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Failover makes a replica of master take its slots over with CLUSTER
// FAILOVER (the master first hands it everything it has written, so no
// write is lost), waits until every node agrees, and returns the new
// master.
func (c *Cluster) Failover(t testing.TB, master *Server) *Server {
	t.Helper()
	id := master.id(t)
	var replica *Server
	for _, line := range master.cli(t, "CLUSTER", "REPLICAS", id) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, n := range c.Nodes {
			if strings.HasPrefix(f[1], n.Addr+"@") {
				replica = n
			}
		}
	}
	if replica == nil {
		t.Fatalf("redistest: %s has no replica", master.Addr)
	}
	replica.cli(t, "CLUSTER", "FAILOVER")
	deadline := time.Now().Add(startTimeout)
	for {
		agreed := true
		for _, n := range c.Nodes {
			nodes, err := n.do("CLUSTER", "NODES")
			if err != nil || !roleIs(nodes, replica.Addr, "master") || !roleIs(nodes, master.Addr, "slave") {
				agreed = false
			}
		}
		if agreed {
			return replica
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s did not take over from %s within %s", replica.Addr, master.Addr, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// roleIs reports whether CLUSTER NODES output lists addr with the flag.
func roleIs(nodes, addr, flag string) bool {
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && strings.HasPrefix(f[1], addr+"@") {
			for _, fl := range strings.Split(f[2], ",") {
				if fl == flag {
					return true
				}
			}
		}
	}
	return false
}
