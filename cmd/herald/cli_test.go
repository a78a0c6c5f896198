package main

// These tests run the herald binary as a user would: a real `herald serve
// --dev` on a real port, and sub, pub and check as separate processes
// talking to it over real sockets.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldrt/herald/protocol"
)

const testAPIKey = "testkey"

// waitTimeout bounds every wait for a condition. It is generous because
// -race and a loaded CI machine slow everything down; a passing run never
// waits for it.
const waitTimeout = 30 * time.Second

// heraldBin is the binary under test, built once by TestMain.
var heraldBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	heraldBin = filepath.Join(dir, "herald")
	args := []string{"build", "-o", heraldBin}
	// The binary gets the race detector too when the tests have it, so the
	// client code is race-checked where it actually runs.
	if raceEnabled() {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build herald: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// The run fails if a test leaves a goroutine behind; idle keep-alive
	// connections are the HTTP client's cache, not a leak.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintf(os.Stderr, "goroutines left behind: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// output collects a process's stdout or stderr and lets a test wait until
// it satisfies a condition.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// lines returns the complete lines written so far.
func (o *output) lines() []string {
	s := o.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

// process is a running herald subprocess, killed when the test ends.
type process struct {
	cmd    *exec.Cmd
	stdout *output
	stderr *output
	done   chan struct{}
}

// startHerald starts `herald args...` with env added to the environment.
func startHerald(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	return spawn(t, env, nil, args...)
}

// spawn starts the herald binary with env and stdin; t's cleanup kills it
// if it is still running.
func spawn(t *testing.T, env []string, stdin io.Reader, args ...string) *process {
	t.Helper()
	return startProcess(t, exec.Command(heraldBin, args...), env, stdin)
}

// startProcess starts cmd (herald, or a shell that execs it) with env
// added to the test's environment; t's cleanup kills it if still running.
func startProcess(t *testing.T, cmd *exec.Cmd, env []string, stdin io.Reader) *process {
	t.Helper()
	p := &process{
		cmd:    cmd,
		stdout: newOutput(),
		stderr: newOutput(),
		done:   make(chan struct{}),
	}
	p.cmd.Env = testEnv(env)
	p.cmd.Stdin = stdin
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", strings.Join(cmd.Args, " "), err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// testEnv is the test's environment without anything of Herald's that
// the person running the tests may have set, plus env.
func testEnv(env []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HERALD_") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatalf("herald %s did not exit within %s\nstdout:\n%s\nstderr:\n%s",
			strings.Join(p.cmd.Args[1:], " "), waitTimeout, p.stdout, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitFor waits until o satisfies cond, failing the test with the output
// so far if it does not within waitTimeout or if the process exits first.
func (p *process) waitFor(t *testing.T, o *output, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		if cond(o.String()) {
			return
		}
		select {
		case <-o.changed:
		case <-p.done:
			if cond(o.String()) {
				return
			}
			t.Fatalf("herald %s exited (%s) before %s\nstdout:\n%s\nstderr:\n%s",
				strings.Join(p.cmd.Args[1:], " "), p.cmd.ProcessState, what, p.stdout, p.stderr)
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s\nstdout:\n%s\nstderr:\n%s", what, p.stdout, p.stderr)
		}
	}
}

// runHerald runs `herald args...` to completion with stdin as its input.
func runHerald(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	p := spawn(t, env, strings.NewReader(stdin), args...)
	code = p.wait(t)
	return p.stdout.String(), p.stderr.String(), code
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startServer runs `herald serve --dev` and returns its base URL once it
// answers /healthz.
func startServer(t *testing.T, env ...string) (string, *process) {
	t.Helper()
	return startServe(t, env, "--dev", "--api-key", testAPIKey)
}

// startServe runs `herald serve --listen <free address> args...` and
// returns its base URL once it answers /healthz.
func startServe(t *testing.T, env []string, args ...string) (string, *process) {
	t.Helper()
	addr := freeAddr(t)
	p := startHerald(t, env, append([]string{"serve", "--listen", addr}, args...)...)
	base := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("herald serve exited (%s)\nstderr:\n%s", p.cmd.ProcessState, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald serve did not answer GET /healthz with 200 within %s (last: %v)\nstderr:\n%s", waitTimeout, err, p.stderr)
		}
	}
}

// publishOK publishes with `herald pub` and returns the reply.
func publishOK(t *testing.T, base, channel, data string) protocol.PublishResult {
	t.Helper()
	stdout, stderr, code := runHerald(t, nil, "", "pub", "--api", base, "--key", testAPIKey, channel, data)
	if code != 0 {
		t.Fatalf("herald pub %s %s: exit %d\nstderr:\n%s", channel, data, code, stderr)
	}
	return decodePubReply(t, stdout)
}

func decodePubReply(t *testing.T, stdout string) protocol.PublishResult {
	t.Helper()
	if strings.Count(stdout, "\n") != 1 || !strings.HasSuffix(stdout, "\n") {
		t.Fatalf("herald pub printed %q, want one line", stdout)
	}
	var r protocol.PublishResult
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("herald pub printed %q: %v", stdout, err)
	}
	if r.Offset == 0 || r.Epoch == "" {
		t.Fatalf("herald pub printed %q, want an offset and an epoch (dev mode keeps history)", stdout)
	}
	return r
}

func hasAll(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

func hasLines(n int) func(string) bool {
	return func(s string) bool { return strings.Count(s, "\n") >= n }
}

func TestSubPrintsPublications(t *testing.T) {
	t.Parallel()
	// Pings every second with a one-second pong timeout: a sub that did
	// not answer pings would be cut off within the test.
	base, _ := startServer(t, "HERALD_CLIENT_PING_INTERVAL=1s", "HERALD_CLIENT_PONG_TIMEOUT=1s")

	sub := startHerald(t, nil, "sub", base, "news", "sports")
	sub.waitFor(t, sub.stderr, "both subscriptions", hasAll("subscribed to news", "subscribed to sports"))
	subscribed := time.Now()

	// Data with characters that JSON encoders like to escape, and spacing
	// the output must not keep: lines are compact JSON.
	r1 := publishOK(t, base, "news", `{"title": "a <b> & c", "n": [1, 2]}`)
	stdout, stderr, code := runHerald(t, []string{"HERALD_API_KEY=" + testAPIKey}, `"from stdin"`,
		"pub", "--api", base, "sports", "-")
	if code != 0 {
		t.Fatalf("herald pub sports - : exit %d\nstderr:\n%s", code, stderr)
	}
	r2 := decodePubReply(t, stdout)

	sub.waitFor(t, sub.stdout, "two publications", hasLines(2))
	want := []pubLine{
		{Channel: "news", Offset: r1.Offset, Epoch: r1.Epoch, Data: json.RawMessage(`{"title":"a <b> & c","n":[1,2]}`)},
		{Channel: "sports", Offset: r2.Offset, Epoch: r2.Epoch, Data: json.RawMessage(`"from stdin"`)},
	}
	checkPubLines(t, sub.stdout.lines(), want)

	// Let the server ping a few times before the last publication (a wait
	// for pings to happen, not a timing assertion), so that it only
	// arrives if sub answered every ping.
	time.Sleep(time.Until(subscribed.Add(3500 * time.Millisecond)))
	r3 := publishOK(t, base, "news", `3`)
	sub.waitFor(t, sub.stdout, "the publication after pings", hasLines(3))
	want = append(want, pubLine{Channel: "news", Offset: r3.Offset, Epoch: r3.Epoch, Data: json.RawMessage(`3`)})
	checkPubLines(t, sub.stdout.lines(), want)

	if err := sub.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := sub.wait(t); code != 0 {
		t.Fatalf("herald sub exited %d on interrupt, want 0\nstderr:\n%s", code, sub.stderr)
	}
}

// TestSubSince recovers from history: what was published before sub
// started comes first, then live publications, each exactly once.
func TestSubSince(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t) // --dev keeps 100 publications per channel

	var want []pubLine
	for _, data := range []string{`"one"`, `"two"`, `"three"`} {
		r := publishOK(t, base, "news", data)
		want = append(want, pubLine{Channel: "news", Offset: r.Offset, Epoch: r.Epoch, Data: json.RawMessage(data)})
	}

	all := startHerald(t, nil, "sub", "--since", "0", base, "news")
	fromSecond := startHerald(t, nil, "sub", "--since", fmt.Sprint(want[1].Offset), base, "news")
	beyond := startHerald(t, nil, "sub", "--since", fmt.Sprint(want[2].Offset+100), base, "news")
	all.waitFor(t, all.stderr, "the recovery", hasAll("herald sub: recovered 3 publications of news (recovered: true)\n"))
	fromSecond.waitFor(t, fromSecond.stderr, "the recovery", hasAll("herald sub: recovered 1 publications of news (recovered: true)\n"))
	// An offset the channel has not reached: nothing to recover, and sub
	// says so but goes on live.
	beyond.waitFor(t, beyond.stderr, "the recovery", hasAll("herald sub: recovered 0 publications of news (recovered: false)\n"))
	// stdout and stderr are separate pipes, so the status line may be read
	// before the lines printed ahead of it.
	all.waitFor(t, all.stdout, "the recovered publications", hasLines(3))
	fromSecond.waitFor(t, fromSecond.stdout, "the recovered publication", hasLines(1))
	checkPubLines(t, all.stdout.lines(), want)
	checkPubLines(t, fromSecond.stdout.lines(), want[2:])

	r := publishOK(t, base, "news", `"four"`)
	live := pubLine{Channel: "news", Offset: r.Offset, Epoch: r.Epoch, Data: json.RawMessage(`"four"`)}
	all.waitFor(t, all.stdout, "the live publication", hasLines(4))
	fromSecond.waitFor(t, fromSecond.stdout, "the live publication", hasLines(2))
	beyond.waitFor(t, beyond.stdout, "the live publication", hasLines(1))
	checkPubLines(t, all.stdout.lines(), append(want[:3:3], live))
	checkPubLines(t, fromSecond.stdout.lines(), []pubLine{want[2], live})
	checkPubLines(t, beyond.stdout.lines(), []pubLine{live})

	for _, p := range []*process{all, fromSecond, beyond} {
		interrupt(t, p)
	}
}

// TestSubSinceUsage checks that --since takes only an offset.
func TestSubSinceUsage(t *testing.T) {
	t.Parallel()
	for _, since := range []string{"-1", "x", ""} {
		_, stderr, code := runHerald(t, nil, "", "sub", "--since", since, "http://127.0.0.1:1", "news")
		if code != 2 || !isUsageError(stderr, "sub") || !strings.Contains(stderr, "since") {
			t.Fatalf("herald sub --since %q: exit %d, want 2 with a one-line usage error\nstderr:\n%s", since, code, stderr)
		}
	}
}

// checkPubLines compares sub's output with the publications expected.
// Data is compared as JSON values: the server may re-encode it (escape
// "<" as \u003c, say), which is its right.
func checkPubLines(t *testing.T, lines []string, want []pubLine) {
	t.Helper()
	if len(lines) != len(want) {
		t.Fatalf("herald sub printed %d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(line)); err != nil || compact.String() != line {
			t.Fatalf("line %d is not compact JSON (%v): %s", i+1, err, line)
		}
		var got pubLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		w := want[i]
		if got.Channel != w.Channel || got.Offset != w.Offset || got.Epoch != w.Epoch || !sameJSON(got.Data, w.Data) {
			t.Fatalf("line %d is %s\nwant channel %q offset %d epoch %q data %s", i+1, line, w.Channel, w.Offset, w.Epoch, w.Data)
		}
	}
}

func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func TestSubSubscribeError(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)

	long := strings.Repeat("x", 1000) // longer than any channel name limit
	_, stderr, code := runHerald(t, nil, "", "sub", base, "news", long)
	if code != 1 {
		t.Fatalf("herald sub with an invalid channel exited %d, want 1\nstderr:\n%s", code, stderr)
	}
	re := regexp.MustCompile(`(?m)^herald sub: subscribe ` + long + `: [a-z ]+ \(1\d\d\): .+$`)
	if !re.MatchString(stderr) {
		t.Fatalf("herald sub stderr does not name the channel, the reason and the code:\n%s", stderr)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	host := strings.TrimPrefix(base, "http://")

	t.Run("live", func(t *testing.T) {
		for _, url := range []string{base, "ws://" + host + "/connection/websocket"} {
			stdout, stderr, code := runHerald(t, nil, "", "check", url)
			if code != 0 {
				t.Fatalf("herald check %s: exit %d\nstderr:\n%s", url, code, stderr)
			}
			re := regexp.MustCompile(`^ok: ws://` + regexp.QuoteMeta(host) + `/connection/websocket connect \d+\.\d\d?ms, ping \d+\.\d\d?ms\n$`)
			if !re.MatchString(stdout) {
				t.Fatalf("herald check %s printed %q", url, stdout)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		_, stderr, code := runHerald(t, nil, "", "check", "http://"+freeAddr(t))
		if code != 1 {
			t.Fatalf("herald check on a closed port exited %d, want 1\nstderr:\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "refused") {
			t.Fatalf("herald check on a closed port does not say the connection was refused:\n%s", stderr)
		}
	})

	t.Run("not found", func(t *testing.T) {
		_, stderr, code := runHerald(t, nil, "", "check", base+"/no/such/prefix")
		if code != 1 {
			t.Fatalf("herald check on a wrong path exited %d, want 1\nstderr:\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "HTTP 404") {
			t.Fatalf("herald check on a wrong path does not give the HTTP status:\n%s", stderr)
		}
	})

	t.Run("silent server", func(t *testing.T) {
		// A listener that accepts and never answers: the check must give up
		// at its timeout and say so.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns sync.WaitGroup
		conns.Add(1)
		go func() {
			defer conns.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				conns.Add(1)
				go func() {
					defer conns.Done()
					_, _ = io.Copy(io.Discard, c)
					c.Close()
				}()
			}
		}()
		t.Cleanup(func() {
			l.Close()
			conns.Wait()
		})
		_, stderr, code := runHerald(t, nil, "", "check", "--timeout", "300ms", "http://"+l.Addr().String())
		if code != 1 {
			t.Fatalf("herald check on a silent server exited %d, want 1\nstderr:\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "timed out") {
			t.Fatalf("herald check on a silent server does not say it timed out:\n%s", stderr)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{"check"}, {"check", "localhost:8000"}, {"check", "--timeout", "soon", base}, {"check", base, base}} {
			_, stderr, code := runHerald(t, nil, "", args...)
			if code != 2 || !isUsageError(stderr, "check") {
				t.Fatalf("herald %s: exit %d, want 2 with a one-line usage error\nstderr:\n%s", strings.Join(args, " "), code, stderr)
			}
		}
	})
}

func TestPubErrors(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)

	t.Run("wrong key", func(t *testing.T) {
		stdout, stderr, code := runHerald(t, nil, "", "pub", "--api", base, "--key", "wrong", "news", "{}")
		if code != 1 {
			t.Fatalf("herald pub with a wrong key exited %d, want 1\nstderr:\n%s", code, stderr)
		}
		if !strings.Contains(stderr, "HTTP 401") || !strings.Contains(stderr, "code 101") || !strings.Contains(stderr, "serve --dev prints it") {
			t.Fatalf("herald pub with a wrong key does not report 401 unauthorized:\n%s", stderr)
		}
		if stdout != "" {
			t.Fatalf("herald pub with a wrong key printed %q on stdout", stdout)
		}
	})

	t.Run("no key", func(t *testing.T) {
		_, stderr, code := runHerald(t, nil, "", "pub", "--api", base, "news", "{}")
		if code != 2 || !strings.Contains(stderr, "HERALD_API_KEY") {
			t.Fatalf("herald pub without a key: exit %d, want 2 naming HERALD_API_KEY\nstderr:\n%s", code, stderr)
		}
	})

	t.Run("invalid JSON", func(t *testing.T) {
		// A server that counts requests proves nothing was sent.
		var requests atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			http.Error(w, "unexpected", http.StatusTeapot)
		}))
		t.Cleanup(srv.Close)
		for _, tc := range []struct{ data, stdin, want string }{
			{data: "hello", want: `a string needs JSON quotes`},
			{data: `{"a":}`, want: "not valid JSON"},
			{data: `{"a":1} x`, want: "not valid JSON"},
			{data: "", want: "empty"},
			{data: "-", stdin: "{", want: "stdin is not valid JSON"},
			{data: "-", stdin: "", want: "stdin is empty"},
		} {
			_, stderr, code := runHerald(t, nil, tc.stdin, "pub", "--api", srv.URL, "--key", testAPIKey, "news", tc.data)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("herald pub news %q (stdin %q): exit %d, want 2 with %q\nstderr:\n%s", tc.data, tc.stdin, code, tc.want, stderr)
			}
		}
		if n := requests.Load(); n != 0 {
			t.Fatalf("herald pub sent %d requests with invalid JSON, want none", n)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"pub"},
			{"pub", "--api", base, "--key", "k", "news"},
			{"pub", "--key", "k", "news", "{}"},
			{"pub", "--api", "ftp://127.0.0.1:1", "--key", "k", "news", "{}"},
		} {
			_, stderr, code := runHerald(t, nil, "", args...)
			if code != 2 || !isUsageError(stderr, "pub") {
				t.Fatalf("herald %s: exit %d, want 2 with a one-line usage error\nstderr:\n%s", strings.Join(args, " "), code, stderr)
			}
		}
	})
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sub", "pub", "check"} {
		for _, flag := range []string{"--help", "-h"} {
			stdout, stderr, code := runHerald(t, nil, "", name, flag)
			if code != 0 {
				t.Fatalf("herald %s %s: exit %d, want 0\nstderr:\n%s", name, flag, code, stderr)
			}
			if !strings.Contains(stdout, "Usage: herald "+name) || !strings.Contains(stdout, "Example") || !strings.Contains(stdout, "-timeout") {
				t.Fatalf("herald %s %s printed no usage with an example and the flags:\n%s", name, flag, stdout)
			}
		}
	}
	_, stderr, code := runHerald(t, nil, "", "sub", "http://127.0.0.1:1")
	if code != 2 || !isUsageError(stderr, "sub") {
		t.Fatalf("herald sub without a channel: exit %d, want 2 with a one-line usage error\nstderr:\n%s", code, stderr)
	}
}

// TestPubPrinter covers what a dev server cannot produce: a channel
// without history, whose publications carry no offset or epoch.
func TestPubPrinter(t *testing.T) {
	var writes countingWriter
	print := pubPrinter(&writes)
	if err := print("live", &protocol.PubPush{Data: json.RawMessage(`{ "a" : "<&>" }`)}); err != nil {
		t.Fatal(err)
	}
	if err := print("news", &protocol.PubPush{Offset: 7, Epoch: "ep", Data: json.RawMessage(`null`)}); err != nil {
		t.Fatal(err)
	}
	want := `{"channel":"live","data":{"a":"<&>"}}` + "\n" + `{"channel":"news","offset":7,"epoch":"ep","data":null}` + "\n"
	if got := writes.buf.String(); got != want {
		t.Fatalf("printed\n%s\nwant\n%s", got, want)
	}
	if writes.n != 2 {
		t.Fatalf("%d writes for 2 lines: a reader could see half a line", writes.n)
	}
}

type countingWriter struct {
	buf bytes.Buffer
	n   int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n++
	return w.buf.Write(p)
}

// TestPublishSendsDataAsGiven checks the request pub sends, which the
// server's reply does not show: data byte for byte (compacted, not
// HTML-escaped), the key in the Authorization header.
func TestPublishSendsDataAsGiven(t *testing.T) {
	type request struct {
		method, path, auth, contentType string
		body                            []byte
	}
	got := make(chan request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- request{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), b}
		io.WriteString(w, "{\"offset\": 4,\n \"epoch\": \"e\"}")
	}))
	t.Cleanup(srv.Close)

	data, err := pubData(`{"html": "<a href='x'>&</a>"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := publish(t.Context(), srv.URL+"/prefix/api/publish", "k3y", "news", data, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"offset":4,"epoch":"e"}`; string(reply) != want {
		t.Fatalf("reply %s, want %s", reply, want)
	}
	r := <-got
	wantBody := `{"channel":"news","data":{"html":"<a href='x'>&</a>"}}` + "\n"
	if r.method != http.MethodPost || r.path != "/prefix/api/publish" || r.auth != "apikey k3y" || r.contentType != "application/json" || string(r.body) != wantBody {
		t.Fatalf("request %s %s, Authorization %q, Content-Type %q, body %s\nwant POST /prefix/api/publish, apikey k3y, application/json, %s",
			r.method, r.path, r.auth, r.contentType, r.body, wantBody)
	}
}

// TestSubPresence watches a second subscriber come and go.
func TestSubPresence(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t) // --dev: presence and join/leave everywhere

	watcher := startHerald(t, nil, "sub", "--presence", base, "news")
	watcher.waitFor(t, watcher.stderr, "the presence list", hasAll("herald sub: subscribed to news", "herald sub: present in news: 1 client: "))
	// Its own join comes first: the server announces every subscription.
	watcher.waitFor(t, watcher.stdout, "its own join", hasLines(1))

	other := startHerald(t, nil, "sub", base, "news")
	other.waitFor(t, other.stderr, "the second subscription", hasAll("subscribed to news"))
	watcher.waitFor(t, watcher.stdout, "the second join", hasLines(2))
	if err := other.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := other.wait(t); code != 0 {
		t.Fatalf("second herald sub exited %d on interrupt\nstderr:\n%s", code, other.stderr)
	}
	watcher.waitFor(t, watcher.stdout, "the leave", hasLines(3))

	lines := watcher.stdout.lines()
	var got []joinLeaveLine
	for _, l := range lines {
		var jl joinLeaveLine
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jl); err != nil || jl.Channel != "news" || (jl.Join == nil) == (jl.Leave == nil) {
			t.Fatalf("line %s is not one join or leave in news (%v)", l, err)
		}
		got = append(got, jl)
	}
	self := got[0].Join
	if self == nil || !strings.Contains(watcher.stderr.String(), "present in news: 1 client: "+self.Client+"\n") {
		t.Fatalf("first line is not sub's own join, the client of the presence list:\n%s\nstderr:\n%s", strings.Join(lines, "\n"), watcher.stderr)
	}
	if got[1].Join == nil || got[2].Leave == nil || got[1].Join.Client != got[2].Leave.Client || got[1].Join.Client == self.Client {
		t.Fatalf("want the second client's join then its leave, got:\n%s", strings.Join(lines, "\n"))
	}
}

// TestSubJSON checks that with --json every line on both streams is JSON.
func TestSubJSON(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	r := publishOK(t, base, "news", `"kept"`)

	sub := startHerald(t, nil, "sub", "--json", "--presence", "--since", "0", base, "news")
	sub.waitFor(t, sub.stderr, "three status lines", hasLines(3))
	sub.waitFor(t, sub.stdout, "the recovered publication and the join", hasLines(2))
	if err := sub.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := sub.wait(t); code != 0 {
		t.Fatalf("herald sub --json exited %d on interrupt\nstderr:\n%s", code, sub.stderr)
	}

	events := jsonLines(t, sub.stderr.String())
	if len(events) != 3 {
		t.Fatalf("%d status lines, want subscribed, recovered and presence:\n%s", len(events), sub.stderr)
	}
	for i, want := range []string{"subscribed", "recovered", "presence"} {
		if events[i]["event"] != want || events[i]["channel"] != "news" {
			t.Fatalf("status line %d is %v, want event %q in news", i+1, events[i], want)
		}
	}
	if events[0]["offset"] != float64(r.Offset) || events[0]["epoch"] != r.Epoch {
		t.Fatalf("subscribed event %v, want offset %d epoch %s", events[0], r.Offset, r.Epoch)
	}
	if events[1]["publications"] != float64(1) || events[1]["recovered"] != true {
		t.Fatalf("recovered event %v, want 1 publication, recovered", events[1])
	}
	out := jsonLines(t, sub.stdout.String())
	if out[0]["data"] != "kept" || out[1]["join"] == nil {
		t.Fatalf("stdout is not the publication then the join:\n%s", sub.stdout)
	}

	// Errors are JSON too.
	_, stderr, code := runHerald(t, nil, "", "sub", "--json", base, "bad channel")
	if code != 1 {
		t.Fatalf("herald sub --json on a bad channel exited %d, want 1\nstderr:\n%s", code, stderr)
	}
	errs := jsonLines(t, stderr)
	if len(errs) != 1 || errs[0]["event"] != "error" || errs[0]["code"] != float64(109) || errs[0]["channel"] != "bad channel" {
		t.Fatalf("stderr is not one error event with code 109:\n%s", stderr)
	}
}

// jsonLines decodes each line of s as a JSON object, failing the test
// on any that is not one.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(s) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v\nall:\n%s", l, err, s)
		}
		out = append(out, m)
	}
	return out
}

func TestCheckSubscribe(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	withKey := []string{"HERALD_API_KEY=" + testAPIKey}

	stdout, stderr, code := runHerald(t, withKey, "", "check", "--subscribe", "_health", base)
	if code != 0 {
		t.Fatalf("herald check --subscribe: exit %d\nstderr:\n%s", code, stderr)
	}
	re := regexp.MustCompile(`^ok: ws://\S+/connection/websocket connect \d+\.\d\d?ms, ping \d+\.\d\d?ms, publish→receive \d+\.\d\d?ms\n$`)
	if !re.MatchString(stdout) {
		t.Fatalf("herald check --subscribe printed %q", stdout)
	}

	stdout, stderr, code = runHerald(t, nil, "", "check", "--json", "--subscribe", "_health", "--api-key", testAPIKey, base)
	if code != 0 {
		t.Fatalf("herald check --json --subscribe: exit %d\nstderr:\n%s", code, stderr)
	}
	var res struct {
		OK          bool     `json:"ok"`
		URL         string   `json:"url"`
		ConnectMS   *float64 `json:"connect_ms"`
		PingMS      *float64 `json:"ping_ms"`
		RoundtripMS *float64 `json:"roundtrip_ms"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !res.OK || res.ConnectMS == nil || res.PingMS == nil || res.RoundtripMS == nil {
		t.Fatalf("herald check --json --subscribe printed %q (%v), want ok with connect_ms, ping_ms and roundtrip_ms", stdout, err)
	}
	if n := publishOK(t, base, "_health", `"after"`).Offset; n != 3 {
		t.Fatalf("_health is at offset %d after two checks and a publish, want 3: each check publishes once", n)
	}

	t.Run("bad key", func(t *testing.T) {
		stdout, stderr, code := runHerald(t, nil, "", "check", "--subscribe", "_health", "--api-key", "wrong", base)
		if code != 1 || !strings.Contains(stderr, "HTTP 401") || stdout != "" {
			t.Fatalf("herald check with a wrong key: exit %d, want 1 naming HTTP 401\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		stdout, _, code = runHerald(t, withKey, "", "check", "--json", "--subscribe", "_health", "--api-key", "wrong", base)
		var res struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if code != 1 || json.Unmarshal([]byte(stdout), &res) != nil || res.OK || !strings.Contains(res.Error, "401") {
			t.Fatalf("herald check --json with a wrong key: exit %d, printed %q; want 1 and ok false naming 401", code, stdout)
		}
	})

	t.Run("bad channel", func(t *testing.T) {
		_, stderr, code := runHerald(t, withKey, "", "check", "--subscribe", "bad channel", base)
		if code != 1 || !strings.Contains(stderr, "(109)") {
			t.Fatalf("herald check --subscribe 'bad channel': exit %d, want 1 with code 109\nstderr:\n%s", code, stderr)
		}
	})

	t.Run("no key", func(t *testing.T) {
		_, stderr, code := runHerald(t, nil, "", "check", "--subscribe", "_health", base)
		if code != 2 || !strings.Contains(stderr, "HERALD_API_KEY") {
			t.Fatalf("herald check --subscribe without a key: exit %d, want 2 naming HERALD_API_KEY\nstderr:\n%s", code, stderr)
		}
	})
}

// TestEveryCommandHelp runs each command of the table with --help.
func TestEveryCommandHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		stdout, stderr, code := runHerald(t, nil, "", c.name, "--help")
		if code != 0 || strings.TrimSpace(stdout+stderr) == "" {
			t.Fatalf("herald %s --help: exit %d, want 0 with a usage\nstdout:\n%s\nstderr:\n%s", c.name, code, stdout, stderr)
		}
	}
}
