// Package redistest starts real redis-server processes for tests: a single
// server (Start) that can be stopped and started again on the same port,
// and a Redis Cluster of masters (StartCluster). Everything listens on
// loopback ports that were free a moment before, and everything is stopped
// when the test ends.
//
// A missing redis-server fails the test with a message saying what to
// install; nothing is skipped.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer PING. It is a
// deadline for a broken setup, not a speed requirement.
const startTimeout = 30 * time.Second

// Server is one redis-server process.
type Server struct {
	// Addr is host:port; it stays the same across Stop and Start.
	Addr string

	t       testing.TB
	host    string // the address Addr names
	args    []string
	dir     string
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	started bool // once: later starts keep the port
	tries   int
}

// Start starts a redis-server with no persistence, on a free loopback
// port, and stops it when the test ends.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	s := newServer(t, extraArgs...)
	s.Start()
	return s
}

// StartInNetns starts a redis-server with no persistence inside the
// network namespace netns (made by the test: `ip netns add`), listening
// on every address there; host is the namespace's address the test and
// its servers reach it at (a veth peer's). Stop and Start keep the port.
// The test must run as root, as network namespaces need.
func StartInNetns(t testing.TB, netns, host string, extraArgs ...string) *Server {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatalf("redistest: ip not found on PATH (Debian: apt-get install iproute2)")
	}
	s := newServer(t, extraArgs...)
	s.args[4] = "0.0.0.0" // --bind
	s.args = append([]string{ip, "netns", "exec", netns}, s.args...)
	s.host = host
	s.setPort(freePort(t))
	s.Start()
	return s
}

func newServer(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	bin := lookRedis(t, "redis-server")
	dir := t.TempDir()
	s := &Server{t: t, dir: dir, host: "127.0.0.1"}
	s.args = append([]string{bin,
		"--port", "", "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--protected-mode", "no", "--loglevel", "warning",
	}, extraArgs...)
	s.setPort(freePort(t))
	t.Cleanup(s.Stop)
	return s
}

// setPort sets the port the server listens on: the value after --port.
func (s *Server) setPort(port int) {
	for i, a := range s.args {
		if a == "--port" {
			s.args[i+1] = strconv.Itoa(port)
		}
	}
	s.Addr = net.JoinHostPort(s.host, strconv.Itoa(port))
}

// lookRedis finds a Redis program or fails the test saying how to get it.
func lookRedis(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("redistest: %s not found on PATH: install it (Debian: apt-get install redis-server; ci/test.sh does this in CI)", name)
	}
	return p
}

// freePort returns a loopback port that nothing listened on a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts the server (again, after Stop) and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	logFile, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(startTimeout)
	for {
		// Another process (another test's Redis, on a shared machine)
		// may have taken the port since it was free: only our process's
		// answer counts.
		if info, err := s.do("INFO", "server"); err == nil && strings.Contains(info, "process_id:"+strconv.Itoa(cmd.Process.Pid)+"\r\n") {
			s.started = true
			return
		}
		select {
		case <-done:
			s.cmd = nil
			if !s.started && s.tries < 5 && strings.Contains(s.log(), "Address already in use") {
				// Taken since it was free: try another port. A restart
				// must keep its port, so only the first start does this.
				s.tries++
				s.setPort(freePort(s.t))
				s.mu.Unlock()
				s.Start()
				s.mu.Lock()
				return
			}
			s.t.Fatalf("redistest: redis-server on %s exited at start; log:\n%s", s.Addr, s.log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: redis-server on %s did not answer PING within %s; log:\n%s", s.Addr, startTimeout, s.log())
		}
	}
}

// Stop kills the server and waits for it to exit; its data is gone, as
// after a crash of a Redis without persistence.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	return string(b)
}

// Do sends one command (its words; no word may contain a space) and
// returns the first line of the reply, failing the test on error.
func (s *Server) Do(words ...string) string {
	s.t.Helper()
	r, err := s.do(words...)
	if err != nil {
		s.t.Fatalf("redistest: %s on %s: %v", strings.Join(words, " "), s.Addr, err)
	}
	return r
}

// do speaks just enough RESP for setup commands: it sends an inline
// command and reads one reply, returning a bulk string's content or a
// simple reply's text.
func (s *Server) do(words ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", strings.Join(words, " ")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("%s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return strings.TrimLeft(line, "+:"), nil
}
