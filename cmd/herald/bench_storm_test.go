package main

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stormNode is a herald serve process that a storm test restarts on the
// same address.
type stormNode struct {
	t    *testing.T
	addr string
	env  []string
	p    *process
}

func startStormNode(t *testing.T, env ...string) *stormNode {
	n := &stormNode{t: t, addr: freeAddr(t), env: env}
	n.start()
	return n
}

func (n *stormNode) base() string { return "http://" + n.addr }

func (n *stormNode) start() {
	n.t.Helper()
	n.p = startHerald(n.t, n.env, "serve", "--listen", n.addr, "--api-key", testAPIKey)
	waitReady(n.t, n.base(), 200)
}

// restart sends sig, waits for the process to exit and starts another.
func (n *stormNode) restart(sig syscall.Signal) {
	n.t.Helper()
	if err := n.p.cmd.Process.Signal(sig); err != nil {
		n.t.Fatal(err)
	}
	n.p.wait(n.t)
	n.start()
}

// A reconnect storm on one node, bounded for the suite: 1,000 Go clients
// (herald bench storm) subscribed, the node drained with SIGTERM and
// started again, then killed with SIGKILL and started again. The bench
// fails if a client gives up or if the clients are not all back and
// subscribed within its --timeout; the times are logged (the 10,000-client
// figures are in docs/reliability.md). HERALD_STORM_CONNS sets the count.
func TestBenchStormRestarts(t *testing.T) {
	t.Parallel()
	conns := 1000
	if v := os.Getenv("HERALD_STORM_CONNS"); v != "" {
		var err error
		if conns, err = strconv.Atoi(v); err != nil {
			t.Fatalf("HERALD_STORM_CONNS=%q: %v", v, err)
		}
	}
	// A short drain keeps the suite short; the docs' runs use the default.
	node := startStormNode(t, "HERALD_SHUTDOWN_DRAIN=1s")
	defer func() {
		if t.Failed() {
			t.Logf("server stderr:\n%s", node.p.stderr)
		}
	}()
	bench := startHerald(t, nil, "bench", "storm", "--conns", strconv.Itoa(conns), "--ramp", "2000",
		"--restarts", "2", "--timeout", "60s", "--wait", "60s", "--json", node.base())
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		want := "waiting for restart " + strconv.Itoa(i+1)
		waitStormLine(t, bench, want)
		node.restart(sig)
	}
	if code := bench.wait(t); code != 0 {
		t.Fatalf("herald bench storm exited %d\nstderr:\n%s", code, bench.stderr)
	}
	var res stormResult
	if err := json.Unmarshal([]byte(bench.stdout.String()), &res); err != nil {
		t.Fatalf("bench output: %v\n%s", err, bench.stdout)
	}
	if res.GaveUp != 0 || len(res.Restarts) != 2 {
		t.Fatalf("gave up %d, restarts measured %d, want 0 and 2", res.GaveUp, len(res.Restarts))
	}
	for i, rs := range res.Restarts {
		if rs.BackSeconds <= 0 || rs.Lowest == int64(conns) {
			t.Errorf("restart %d: %+v: the clients did not go and come back", i+1, rs)
		}
		t.Logf("%s: %d clients back and subscribed in %.2fs (lowest %d), %d upgrades refused, server peak RSS %d MB, peak %.2f cores",
			[]string{"SIGTERM", "SIGKILL"}[i], conns, rs.BackSeconds, rs.Lowest, rs.Refused, rs.PeakRSS>>20, rs.PeakCPUCores)
	}
}

// waitStormLine waits for the bench to print want on stderr, allowing
// its --timeout (60s) for the clients to come back, not waitTimeout: on a
// loaded machine the race-built clients are slow.
func waitStormLine(t *testing.T, bench *process, want string) {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for !strings.Contains(bench.stderr.String(), want) {
		select {
		case <-bench.stderr.changed:
		case <-time.After(100 * time.Millisecond):
		case <-bench.done:
			t.Fatalf("herald bench storm exited before %q\nstderr:\n%s", want, bench.stderr)
		case <-deadline:
			t.Fatalf("herald bench storm did not print %q within 90s\nstderr:\n%s", want, bench.stderr)
		}
	}
}
