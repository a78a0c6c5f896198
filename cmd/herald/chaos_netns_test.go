package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// chaosNet is a network namespace for Redis with one veth pair per Herald
// node, so that the link between one node and Redis can be cut, slowed or
// made to drop packets while the others keep going. The nodes stay in the
// test's namespace, on loopback for their clients; node k reaches Redis at
// redisHost(k), over its own pair.
type chaosNet struct {
	t      *testing.T
	ns     string
	id     string
	prefix string // "10.N": node k's pair is prefix.k.0/24
	tc     string // path of tc, "" when missing
}

// newChaosNet makes the namespace and the pairs, or skips the test saying
// why it cannot: network namespaces need root and the ip tool.
func newChaosNet(t *testing.T, nodes int) *chaosNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("chaos test skipped: it makes network namespaces and veth pairs, which needs root (run go test as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("chaos test skipped: the ip tool (iproute2) is not installed")
	}
	n := &chaosNet{t: t, id: fmt.Sprintf("%04x", rand.IntN(1<<16))}
	n.ns = "herald-chaos-" + n.id
	n.prefix = fmt.Sprintf("10.%d", 64+rand.IntN(180))
	if out, err := exec.Command("ip", "netns", "add", n.ns).CombinedOutput(); err != nil {
		t.Skipf("chaos test skipped: ip netns add: %v: %s (no network namespaces here)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.ns).Run() })
	n.ip("-n", n.ns, "link", "set", "lo", "up")
	// A cut link must not send the node's packets for Redis out of the
	// default route: anything in the prefix that no pair carries is
	// unreachable.
	n.ip("route", "add", "unreachable", n.prefix+".0.0/16", "metric", "4000")
	t.Cleanup(func() {
		_ = exec.Command("ip", "route", "del", "unreachable", n.prefix+".0.0/16", "metric", "4000").Run()
	})
	for k := range nodes {
		a, b := n.link(k), n.peer(k)
		n.ip("link", "add", a, "type", "veth", "peer", "name", b, "netns", n.ns)
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", a).Run() })
		n.ip("addr", "add", fmt.Sprintf("%s.%d.1/24", n.prefix, k+1), "dev", a)
		n.ip("link", "set", a, "up")
		n.ip("-n", n.ns, "addr", "add", n.redisHost(k)+"/24", "dev", b)
		n.ip("-n", n.ns, "link", "set", b, "up")
	}
	if p, err := exec.LookPath("tc"); err == nil {
		n.tc = p
	} else if _, err := os.Stat("/usr/sbin/tc"); err == nil {
		n.tc = "/usr/sbin/tc"
	}
	return n
}

func (n *chaosNet) link(k int) string { return fmt.Sprintf("hc%sa%d", n.id, k) }
func (n *chaosNet) peer(k int) string { return fmt.Sprintf("hc%sb%d", n.id, k) }

// redisHost is Redis's address on node k's pair.
func (n *chaosNet) redisHost(k int) string { return fmt.Sprintf("%s.%d.2", n.prefix, k+1) }

func (n *chaosNet) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// cut takes node k's link down from the Redis side: the node's end loses
// its carrier and every packet either way is dropped, while its sockets
// stay open, as when a switch port dies.
func (n *chaosNet) cut(k int, down bool) {
	state := "up"
	if down {
		state = "down"
	}
	n.ip("-n", n.ns, "link", "set", n.peer(k), state)
}

// shape puts a token bucket on both ends of node k's link: rate and a
// queue of latency, past which packets are dropped. A slow rate with a
// long queue delays; a short queue drops. This kernel has no netem (no
// sch_netem module), so tbf is what makes delay and loss here. An empty
// rate removes it.
func (n *chaosNet) shape(k int, rate, latency string) {
	n.t.Helper()
	for _, dev := range [][]string{{n.link(k)}, {n.peer(k), n.ns}} {
		args := []string{"qdisc", "del", "dev", dev[0], "root"}
		if rate != "" {
			args = []string{"qdisc", "replace", "dev", dev[0], "root", "tbf", "rate", rate, "burst", "4kb", "latency", latency}
		}
		cmd := exec.Command(n.tc, args...)
		if len(dev) == 2 {
			cmd = exec.Command("ip", append([]string{"netns", "exec", dev[1], n.tc}, args...)...)
		}
		if out, err := cmd.CombinedOutput(); err != nil && rate != "" {
			n.t.Fatalf("%s: %v: %s", strings.Join(cmd.Args, " "), err, out)
		}
	}
}

// canShape says whether tc with tbf works here.
func (n *chaosNet) canShape() bool {
	if n.tc == "" {
		return false
	}
	err := exec.Command(n.tc, "qdisc", "replace", "dev", n.link(0), "root", "tbf", "rate", "1mbit", "burst", "4kb", "latency", "10ms").Run()
	_ = exec.Command(n.tc, "qdisc", "del", "dev", n.link(0), "root").Run()
	return err == nil
}
