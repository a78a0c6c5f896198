package redistest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster: masters, and replicas if asked for.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		a[i] = n.Addr
	}
	return a
}

// StartCluster starts n cluster-enabled redis-servers, joins them into one
// cluster with redis-cli --cluster create (the slots split evenly), and
// waits until every node reports the cluster ok.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return startCluster(t, n, 0)
}

// StartClusterReplicas starts a cluster of masters with replicas each
// (redis-cli decides which node replicates which), and waits until every
// replica has synchronized with its master.
func StartClusterReplicas(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	c := startCluster(t, masters*(1+replicas), replicas)
	deadline := time.Now().Add(startTimeout)
	for _, s := range c.Nodes {
		for {
			info, err := s.do("INFO", "replication")
			if err == nil && (strings.Contains(info, "role:master") || strings.Contains(info, "master_link_status:up")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: replica %s not synchronized within %s: %q %v", s.Addr, startTimeout, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

func startCluster(t testing.TB, n, replicas int) *Cluster {
	t.Helper()
	cli := lookRedis(t, "redis-cli")
	c := &Cluster{}
	for range n {
		// Each node keeps its nodes.conf in its own directory.
		s := newServer(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "5000")
		s.Start()
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, s := range c.Nodes {
		for {
			info, err := s.do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster node %s not ok within %s: %q %v", s.Addr, startTimeout, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}
