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
	"regexp"
	"strings"
	"sync"
	"syscall"
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

// heraldProc is one `herald serve` process on a fixed address, so that it
// can be stopped and started again where the load balancer expects it.
type heraldProc struct {
	t    *testing.T
	addr string
	args []string
	env  []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
}

// syncBuffer collects a process's output, written by exec's copier.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startHerald runs `herald serve --dev` with extra environment and waits for it.
func startHerald(t *testing.T, env ...string) string {
	t.Helper()
	return startProc(t, fmt.Sprintf("127.0.0.1:%d", freePort(t)), []string{"--dev", "--api-key", "k"}, env).addr
}

// startProc runs `herald serve --listen addr args...` and waits until it
// is ready; the test's end stops it.
func startProc(t *testing.T, addr string, args, env []string) *heraldProc {
	t.Helper()
	p := &heraldProc{t: t, addr: addr, args: args, env: env, logs: &syncBuffer{}}
	p.start()
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("herald %s log:\n%s", p.addr, p.logs)
		}
	})
	return p
}

func (p *heraldProc) start() {
	p.t.Helper()
	cmd := exec.Command(heraldBin, append([]string{"serve", "--listen", p.addr}, p.args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	fmt.Fprintf(p.logs, "--- start %s\n", p.addr)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	waitHTTP(p.t, "http://"+p.addr+"/readyz")
}

// stop sends sig and waits for the process to exit; SIGKILL after 30s.
func (p *heraldProc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// runDaemon runs a load balancer in the foreground until the test ends.
func runDaemon(t *testing.T, name string, logFile string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			var log []byte
			if logFile != "" {
				log, _ = os.ReadFile(logFile)
			}
			t.Logf("%s output:\n%s\n%s", name, out, log)
		}
	})
}

// withServers puts addrs in place of the example nodes (127.0.0.1:8001,
// ...) of a shipped load balancer config, one server line each, keeping
// every option of the line; example lines left over are dropped.
func withServers(t *testing.T, conf string, addrs []string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\s*server\s+(?:\S+\s+)?)127\.0\.0\.1:800\d(.*)\n`)
	n := len(re.FindAllString(conf, -1))
	if n < len(addrs) {
		t.Fatalf("the config has %d example servers, the test needs %d", n, len(addrs))
	}
	i := 0
	return re.ReplaceAllStringFunc(conf, func(line string) string {
		defer func() { i++ }()
		if i >= len(addrs) {
			return ""
		}
		m := re.FindStringSubmatch(line)
		return m[1] + addrs[i] + m[2] + "\n"
	})
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

// apiCall posts body to the API method at base and returns the answer's
// status and body.
func apiCall(t *testing.T, base, method, body string) (int, string) {
	t.Helper()
	status, b, err := tryAPI(base, method, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, b
}

// tryAPI is apiCall for a goroutine of the test, which must not fail it.
func tryAPI(base, method, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/api/"+method, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "apikey k")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

func publish(t *testing.T, base, channel, data string) {
	t.Helper()
	if status, body := apiCall(t, base, "publish", `{"channel":"`+channel+`","data":`+data+`}`); status != 200 {
		t.Fatalf("publish: HTTP %d %s", status, body)
	}
}

// checkProxied: through proxy, a client subscribes and receives what the
// backend publishes through the same proxy, and a browser-style
// same-origin handshake passes Herald's Origin check.
func checkProxied(t *testing.T, proxy, via string) {
	t.Helper()
	c := dialWS(t, "ws://"+proxy+"/connection/websocket", http.Header{"Origin": {"http://" + proxy}})
	c.send(t, `{"id":1,"connect":{}}`+"\n"+`{"id":2,"subscribe":{"channel":"news"}}`)
	c.expect(t, `"connect"`)
	c.expect(t, `"subscribe"`)
	publish(t, "http://"+proxy, "news", `{"via":"`+via+`"}`)
	c.expect(t, `"via":"`+via+`"`)
}

// checkIdleSurvives: a connection through proxy, whose idle timeout is 3s,
// stays idle for more than twice that and still gets a publication, kept
// alive by the pings of herald (started with a 1s ping interval).
func checkIdleSurvives(t *testing.T, proxy, herald string) {
	t.Helper()
	c := dialWS(t, "ws://"+proxy+"/connection/websocket", nil)
	c.send(t, `{"id":1,"connect":{}}`+"\n"+`{"id":2,"subscribe":{"channel":"idle"}}`)
	c.expect(t, `"connect"`)
	c.expect(t, `"subscribe"`)
	select {
	case err := <-c.done:
		t.Fatalf("the proxy cut an idle but healthy connection: %v", err)
	case <-time.After(7 * time.Second):
	}
	publish(t, "http://"+herald, "idle", `"still connected"`)
	c.expect(t, `still connected`)
}
