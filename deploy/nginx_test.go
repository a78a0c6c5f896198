package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
)

var heraldBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-deploy-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	heraldBin = filepath.Join(dir, "herald")
	build := exec.Command("go", "build", "-o", heraldBin, "../cmd/herald")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build herald:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need finds a program the test depends on. In CI (CI set) a missing
// program fails the test, since ci/test.sh installs it; elsewhere it skips.
func need(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: ci/test.sh installs it", name)
	}
	t.Skipf("%s is not installed (run ci/test.sh to install it)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startHerald runs `herald serve` with extra environment and waits for it.
func startHerald(t *testing.T, env ...string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(heraldBin, "serve", "--dev", "--api-key", "k", "--listen", addr)
	cmd.Env = append(os.Environ(), env...)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("herald log:\n%s", logs)
		}
	})
	waitHTTP(t, "http://"+addr+"/healthz")
	return addr
}

// startNginx runs nginx in the foreground, as the current user, with the
// shipped deploy/nginx/herald.conf proxying to upstream.
func startNginx(t *testing.T, upstream, readTimeout string) string {
	t.Helper()
	bin := need(t, "nginx")
	dir := t.TempDir()
	snippet, err := os.ReadFile("nginx/herald.conf")
	if err != nil {
		t.Fatal(err)
	}
	// The test shortens the read timeout so that the idle test is quick;
	// everything else is the shipped config.
	conf := strings.ReplaceAll(string(snippet), "proxy_read_timeout 60s;", "proxy_read_timeout "+readTimeout+";")
	if err := os.WriteFile(filepath.Join(dir, "herald.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream herald { server %[2]s; }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen %[3]s;
    include %[1]s/herald.conf;
  }
}
`, dir, upstream, addr)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out, errLog)
		}
	})
	waitHTTP(t, "http://"+addr+"/healthz")
	return addr
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 in time: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wsClient reads JSON lines and answers pings, as every Herald client must.
type wsClient struct {
	conn  *cws.Conn
	lines chan string
	done  chan error
}

func dialWS(t *testing.T, url string, header http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := cws.Dial(ctx, url, &cws.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &wsClient{conn: conn, lines: make(chan string, 256), done: make(chan error, 1)}
	go func() {
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				c.done <- err
				close(c.lines)
				return
			}
			sc := bufio.NewScanner(strings.NewReader(string(data)))
			for sc.Scan() {
				line := sc.Text()
				if line == `{"ping":{}}` {
					_ = conn.Write(context.Background(), cws.MessageText, []byte(`{"pong":{}}`))
					continue
				}
				c.lines <- line
			}
		}
	}()
	t.Cleanup(func() { conn.Close(cws.StatusNormalClosure, "") })
	return c
}

func (c *wsClient) send(t *testing.T, s string) {
	t.Helper()
	if err := c.conn.Write(context.Background(), cws.MessageText, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

// expect reads the next line that is not a join or leave push (dev mode
// announces every subscriber) and checks it contains substr.
func (c *wsClient) expect(t *testing.T, substr string) {
	t.Helper()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("connection ended waiting for %q: %v", substr, <-c.done)
			}
			if strings.Contains(line, `"join":{`) || strings.Contains(line, `"leave":{`) {
				continue
			}
			if !strings.Contains(line, substr) {
				t.Fatalf("got %s, want a line containing %s", line, substr)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %q", substr)
		}
	}
}

func publish(t *testing.T, base, channel, data string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/publish", strings.NewReader(`{"channel":"`+channel+`","data":`+data+`}`))
	req.Header.Set("Authorization", "apikey k")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("publish: HTTP %d %s", res.StatusCode, body)
	}
}

// Through nginx, a client subscribes and receives what the backend
// publishes through the same proxy, and a browser-style same-origin
// handshake passes Herald's Origin check.
func TestNginxProxiesWebSocketAndAPI(t *testing.T) {
	herald := startHerald(t)
	proxy := startNginx(t, herald, "60s")
	c := dialWS(t, "ws://"+proxy+"/connection/websocket", http.Header{"Origin": {"http://" + proxy}})
	c.send(t, `{"id":1,"connect":{}}`+"\n"+`{"id":2,"subscribe":{"channel":"news"}}`)
	c.expect(t, `"connect"`)
	c.expect(t, `"subscribe"`)
	publish(t, "http://"+proxy, "news", `{"via":"nginx"}`)
	c.expect(t, `"via":"nginx"`)

	// Metrics are for the inside, not the proxy's public side.
	res, err := http.Get("http://" + proxy + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics through nginx: %d, want 404", res.StatusCode)
	}
}

// nginx cuts a proxied connection that stays silent for proxy_read_timeout.
// Herald's pings (and the client's pongs) keep a healthy, otherwise idle
// connection from ever being that silent.
func TestNginxIdleTimeoutDoesNotCutHealthyConnection(t *testing.T) {
	herald := startHerald(t, "HERALD_CLIENT_PING_INTERVAL=1s", "HERALD_CLIENT_PONG_TIMEOUT=1s")
	proxy := startNginx(t, herald, "3s")
	c := dialWS(t, "ws://"+proxy+"/connection/websocket", nil)
	c.send(t, `{"id":1,"connect":{}}`+"\n"+`{"id":2,"subscribe":{"channel":"idle"}}`)
	c.expect(t, `"connect"`)
	c.expect(t, `"subscribe"`)

	// Idle for more than twice nginx's read timeout.
	select {
	case err := <-c.done:
		t.Fatalf("the proxy cut an idle but healthy connection: %v", err)
	case <-time.After(7 * time.Second):
	}
	publish(t, "http://"+herald, "idle", `"still connected"`)
	c.expect(t, `still connected`)
}
