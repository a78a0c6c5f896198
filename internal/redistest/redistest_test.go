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
