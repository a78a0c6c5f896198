package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	cws "github.com/coder/websocket"
)

// lockedLog is a process's output, written by exec's copying goroutines
// while the test reads it.
type lockedLog struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// On SIGTERM a node behind nginx keeps its port open through the drain:
// /readyz answers 503 (never a 502 for a closed port) so that the load
// balancer takes the node out, a client that still arrives is told to
// reconnect (4000) rather than refused, the connected clients are told the
// same, and the node exits at the drain's end.
func TestNginxDrainServesReadyz(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(heraldBin, "serve", "--dev", "--api-key", "k", "--listen", addr)
	// The drain is long enough for the polls below on a loaded machine;
	// nothing waits for it to pass but the exit at the end.
	cmd.Env = append(os.Environ(), "HERALD_SHUTDOWN_DRAIN=4s", "HERALD_SHUTDOWN_TIMEOUT=60s")
	logs := &lockedLog{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("herald log:\n%s", logs)
		}
	})
	waitHTTP(t, "http://"+addr+"/healthz")
	proxy := startNginx(t, []string{addr}, "60s")
	ws := "ws://" + proxy + "/connection/websocket"

	c := dialWS(t, ws, nil)
	c.send(t, `{"id":1,"connect":{}}`)
	c.expect(t, `"connect"`)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get("http://" + proxy + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz through nginx during the drain: %v", err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /readyz through nginx after SIGTERM: %d, want 200 until the drain begins, then 503", res.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not turn 503 after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A new client during the drain is upgraded, then told to reconnect.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	late, _, err := cws.Dial(ctx, ws, nil)
	if err != nil {
		t.Fatalf("dial through nginx during the drain: %v (the port must stay open)", err)
	}
	_, _, err = late.Read(ctx)
	if code := cws.CloseStatus(err); code != 4000 {
		t.Fatalf("a client arriving during the drain got %v, want close 4000 (reconnect)", err)
	}
	late.CloseNow()

	// /readyz is still served, 503, after the last connection has gone.
	res, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz during the drain: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /readyz during the drain: %d, want 503", res.StatusCode)
	}

	// The connected client was told to reconnect too.
	select {
	case err := <-c.done:
		if code := cws.CloseStatus(err); code != 4000 {
			t.Fatalf("connected client ended with %v, want close 4000", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the connected client was not disconnected during the drain")
	}
	select {
	case <-exited:
		var exit *exec.ExitError
		if errors.As(waitErr, &exit) {
			t.Fatalf("herald exited with %v after the drain, want 0", waitErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("herald did not exit after the drain")
	}
}
