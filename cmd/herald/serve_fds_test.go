//go:build linux

package main

import (
	"bufio"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startLimited runs `herald serve` under bash with the open-file limits
// given (soft below hard, as distributions start services), on addr.
func startLimited(t *testing.T, soft, hard string, addr string, env ...string) *process {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for ulimit")
	}
	cmd := exec.Command("bash", "-c", "ulimit -Sn "+soft+" && ulimit -Hn "+hard+` && exec "$0" serve --listen "$1"`, heraldBin, addr)
	p := startProcess(t, cmd, append([]string{"HERALD_SHUTDOWN_DRAIN=100ms"}, env...), nil)
	p.waitFor(t, p.stderr, "serving", func(s string) bool { return strings.Contains(s, "msg=serving") })
	return p
}

// slowConns opens n connections that send the start of a request and
// never finish it, as a slow-headers attack does.
func slowConns(t *testing.T, addr string, n int) (conns []net.Conn) {
	t.Helper()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_, _ = c.Write([]byte("GET /connection/websocket HTTP/1.1\r\nHo"))
		conns = append(conns, c)
	}
	return conns
}

// waitUpgrade polls until a whole upgrade request gets want: the server
// counts a connection when it starts serving it, which may lag the dial.
func waitUpgrade(t *testing.T, p *process, addr string, want int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		got, err := upgradeStatus(t, addr)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upgrade: HTTP %d, %v; want %d\nstderr:\n%s", got, err, want, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// upgradeStatus sends a whole upgrade request and returns the status.
func upgradeStatus(t *testing.T, addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	_, _ = c.Write([]byte("GET /connection/websocket HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestSlowHandshakesUnderLowFDLimit: with a low descriptor limit, more
// slow handshakes than it holds do not lock new clients out for the header
// timeout: serve raised its soft limit to the hard one, caps unfinished
// requests at half of it, answers past that at once (503), and lets a
// client in as soon as the slow ones are gone.
func TestSlowHandshakesUnderLowFDLimit(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	p := startLimited(t, "64", "256", addr)
	if s := p.stderr.String(); !strings.Contains(s, "limit=256") || !strings.Contains(s, "hard limit") {
		t.Fatalf("the raise is not logged:\n%s", p.stderr)
	}
	slow := slowConns(t, addr, 300)
	waitUpgrade(t, p, addr, http.StatusServiceUnavailable)
	p.waitFor(t, p.stderr, "the refusals logged", func(s string) bool { return strings.Contains(s, "too many unfinished handshakes") })
	if strings.Contains(p.stderr.String(), "too many open files") {
		t.Fatalf("the server ran out of descriptors:\n%s", p.stderr)
	}
	for _, c := range slow {
		c.Close()
	}
	waitUpgrade(t, p, addr, http.StatusSwitchingProtocols)
}

// TestNearFDLimitWarns: without the cap (max_handshakes above the limit)
// the process nears its limit, and says so before accept fails.
func TestNearFDLimitWarns(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	p := startLimited(t, "128", "128", addr, "HERALD_ADMISSION_MAX_HANDSHAKES=100000")
	slowConns(t, addr, 115)
	p.waitFor(t, p.stderr, "the warning", func(s string) bool { return strings.Contains(s, "open files near the limit") })
}
