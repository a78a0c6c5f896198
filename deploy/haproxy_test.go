package deploy_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// haproxy is a running HAProxy with the shipped config.
type haproxy struct {
	addr  string
	stats string // its runtime API socket
}

// startHAProxy runs HAProxy in the foreground with the shipped
// deploy/haproxy/haproxy.cfg, its nodes replaced by upstreams, its public
// port by a free one, maxconn lowered to what a test process may open,
// and a runtime API socket added so that the test can read what the health
// checks decided. edit may change the config further.
func startHAProxy(t *testing.T, upstreams []string, edit func(string) string) haproxy {
	t.Helper()
	bin := need(t, "haproxy")
	dir := t.TempDir()
	shipped, err := os.ReadFile("haproxy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	h := haproxy{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), stats: filepath.Join(dir, "admin.sock")}
	conf := withServers(t, string(shipped), upstreams)
	conf = strings.Replace(conf, "bind 127.0.0.1:8080", "bind "+h.addr, 1)
	conf = strings.Replace(conf, "global\n", "global\n    stats socket "+h.stats+" level admin\n", 1)
	// Within the file descriptors a test may have.
	conf = strings.Replace(conf, "maxconn 100000", "maxconn 2000", 1)
	if edit != nil {
		conf = edit(conf)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, "haproxy", "", bin, "-db", "-f", path)
	waitHTTP(t, "http://"+h.addr+"/healthz")
	return h
}

// serverStatus asks HAProxy's runtime API for each server's status in
// the herald backend (UP, DOWN, ...).
func (h haproxy) serverStatus(t *testing.T) map[string]string {
	t.Helper()
	conn, err := net.Dial("unix", h.stats)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(raw), "# "))).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("show stat: %v\n%s", err, raw)
	}
	col := func(name string) int { return slices.Index(rows[0], name) }
	px, sv, status := col("pxname"), col("svname"), col("status")
	out := map[string]string{}
	for _, r := range rows[1:] {
		if len(r) > status && r[px] == "herald" && r[sv] != "BACKEND" {
			out[r[sv]] = r[status]
		}
	}
	return out
}

// waitStatus waits until the server's status starts with want.
func (h haproxy) waitStatus(t *testing.T, server, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := h.serverStatus(t)[server]
		if strings.HasPrefix(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %q in HAProxy, want %s", server, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Through HAProxy, a client subscribes and receives what the backend
// publishes through the same proxy; operator endpoints are refused.
func TestHAProxyProxiesWebSocketAndAPI(t *testing.T) {
	herald := startHerald(t)
	proxy := startHAProxy(t, []string{herald}, nil)
	checkProxied(t, proxy.addr, "haproxy")
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		res, err := http.Get("http://" + proxy.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s through HAProxy: %d, want 404", path, res.StatusCode)
		}
	}
}

// HAProxy cuts an upgraded connection silent for timeout tunnel; Herald's
// pings keep a healthy idle connection from being that silent.
func TestHAProxyTunnelTimeoutDoesNotCutHealthyConnection(t *testing.T) {
	herald := startHerald(t, "HERALD_CLIENT_PING_INTERVAL=1s", "HERALD_CLIENT_PONG_TIMEOUT=1s")
	proxy := startHAProxy(t, []string{herald}, func(c string) string {
		return strings.Replace(c, "timeout tunnel 60s", "timeout tunnel 3s", 1)
	})
	checkIdleSurvives(t, proxy.addr, herald)
}

// The active check on /readyz takes a node that stopped answering out of
// the backend, and puts it back once it is ready again; meanwhile every
// new connection lands on the node that is up.
func TestHAProxyHealthCheckTakesNodeOutAndBack(t *testing.T) {
	a := startProc(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), []string{"--dev", "--api-key", "k"}, nil)
	b := startHerald(t)
	proxy := startHAProxy(t, []string{a.addr, b}, nil)
	proxy.waitStatus(t, "herald1", "UP")
	proxy.waitStatus(t, "herald2", "UP")

	a.stop(syscall.SIGKILL)
	proxy.waitStatus(t, "herald1", "DOWN")
	for range 5 {
		c := dialWS(t, "ws://"+proxy.addr+"/connection/websocket", nil)
		c.send(t, `{"id":1,"connect":{}}`)
		c.expect(t, `"connect"`)
	}
	a.start()
	proxy.waitStatus(t, "herald1", "UP")
}
