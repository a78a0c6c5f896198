// Command idlemem measures what an idle WebSocket connection costs a herald
// server: it starts `herald serve` as a separate process on loopback, opens
// many connections to it from this process (each connected and subscribed
// to one channel, then silent), and compares the server's resident memory,
// Go heap, goroutine stacks and goroutines before and after.
//
//	go run ./internal/tools/idlemem -conns 10000
//
// The server runs with the default configuration (compression on) plus
// debug.pprof, so that /debug/pprof/heap?gc=1 can force a collection before
// each reading, a 25s ping interval and no admission rate. The
// environment passes through: HERALD_WEBSOCKET_ENGINE=goroutine measures
// the read path before epoll.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	cws "github.com/coder/websocket"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "idlemem:", err)
		os.Exit(1)
	}
}

type options struct {
	conns    int
	channels int
	herald   string
	compress bool
	dialers  int
	settle   time.Duration
	profile  string
	hold     time.Duration
}

func run() error {
	var o options
	flag.IntVar(&o.conns, "conns", 10000, "idle connections to open")
	flag.IntVar(&o.channels, "channels", 100, "channels the connections subscribe to, round robin (idle-0, idle-1, ...)")
	flag.StringVar(&o.herald, "herald", "", "herald binary to run (default: build ./cmd/herald into a temporary directory)")
	flag.BoolVar(&o.compress, "compress", true, "offer permessage-deflate (no context takeover) as browsers do")
	flag.IntVar(&o.dialers, "dialers", 16, "connections dialed at once")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "wait between the two collections after connecting")
	flag.StringVar(&o.profile, "profile", "", "directory to save the server's heap profile and goroutine dump into after measuring")
	flag.DurationVar(&o.hold, "hold", 0, "keep the connections open this long after measuring (for pprof by hand)")
	flag.Parse()
	if o.conns < 1 || o.channels < 1 || o.dialers < 1 {
		return errors.New("-conns, -channels and -dialers must be at least 1")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Each connection is a descriptor here and one in the server, which
	// inherits this limit.
	if err := raiseNoFile(uint64(o.conns) + 512); err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "idlemem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.herald
	if bin == "" {
		bin = filepath.Join(tmp, "herald")
		fmt.Fprintln(os.Stderr, "building ./cmd/herald ...")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/herald")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build herald (run from the module root, or pass -herald): %w", err)
		}
	}

	srv, err := startServer(ctx, bin, filepath.Join(tmp, "server.log"))
	if err != nil {
		return err
	}
	defer srv.stop()

	if err := srv.collect(ctx); err != nil {
		return err
	}
	before, err := srv.sample(ctx)
	if err != nil {
		return err
	}

	fmt.Fprintf(os.Stderr, "opening %d connections to %s ...\n", o.conns, srv.addr)
	start := time.Now()
	clients, err := openAll(ctx, srv.wsURL(), o)
	defer closeAll(clients)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d connections connected and subscribed in %s\n", len(clients), time.Since(start).Round(time.Millisecond))

	if err := srv.collect(ctx); err != nil {
		return err
	}
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := srv.collect(ctx); err != nil {
		return err
	}
	after, err := srv.sample(ctx)
	if err != nil {
		return err
	}
	if got := int(after.metric["herald_connections"]); got != len(clients) {
		return fmt.Errorf("the server counts %d connections, want %d", got, len(clients))
	}
	for _, c := range clients {
		if c.err() != nil {
			return fmt.Errorf("a connection ended during the measurement: %w", c.err())
		}
	}
	report(os.Stdout, len(clients), o, before, after)

	if o.profile != "" {
		if err := srv.saveProfiles(ctx, o.profile); err != nil {
			return err
		}
	}
	if o.hold > 0 {
		fmt.Fprintf(os.Stderr, "holding the connections for %s: pprof at http://%s/debug/pprof/\n", o.hold, srv.addr)
		select {
		case <-time.After(o.hold):
		case <-ctx.Done():
		}
	}
	return nil
}

// raiseNoFile raises the soft RLIMIT_NOFILE to need, or says why it cannot.
func raiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		// As root the hard limit goes up too (to fs.nr_open).
		raised := syscall.Rlimit{Cur: need, Max: need}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return nil
		}
		return fmt.Errorf("need %d file descriptors per process, the hard limit (ulimit -Hn) is %d: lower -conns to at most %d, or raise it as root (ulimit -Hn %d)", need, lim.Max, lim.Max-512, need)
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", need, err)
	}
	return nil
}

// server is the herald process under measurement.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan struct{} // closed when the process has exited
	http *http.Client
}

func startServer(ctx context.Context, bin, logPath string) (*server, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", addr)
	// Admission off: the dialers connect faster than the default
	// admission.rate, and a refusal would end the measurement.
	cmd.Env = append(os.Environ(), "HERALD_DEBUG_PPROF=true", "HERALD_CLIENT_PING_INTERVAL=25s", "HERALD_ADMISSION_RATE=0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, addr: addr, log: logPath, done: make(chan struct{}), http: &http.Client{Timeout: 30 * time.Second}}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.get(ctx, "/healthz")
		if err == nil {
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("herald exited before it was healthy: %s", s.tail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("herald was not healthy at %s within 15s: %v", addr, err)
		}
	}
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// stop asks the server to shut down and kills it if it takes longer than a
// few seconds: the measurement is over, graceful drain is not under test.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func (s *server) wsURL() string { return "ws://" + s.addr + "/connection/websocket" }

// get fetches path and fails unless the answer is 200.
func (s *server) get(ctx context.Context, path string) error {
	body, err := s.fetch(ctx, path)
	if err != nil {
		return err
	}
	return body.Close()
}

func (s *server) fetch(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", path, res.Status)
	}
	return res.Body, nil
}

// collect forces a garbage collection in the server: pprof's heap endpoint
// runs runtime.GC with gc=1.
func (s *server) collect(ctx context.Context) error {
	body, err := s.fetch(ctx, "/debug/pprof/heap?gc=1")
	if err != nil {
		return fmt.Errorf("force a GC (is debug.pprof on?): %w", err)
	}
	_, _ = io.Copy(io.Discard, body)
	return body.Close()
}

// sample is one reading of the server's memory.
type sample struct {
	rss, anon int64              // bytes, from /proc/PID/status
	metric    map[string]float64 // from /metrics
}

var wantMetrics = []string{
	"go_memstats_heap_inuse_bytes",
	"go_memstats_heap_idle_bytes",
	"go_memstats_heap_released_bytes",
	"go_memstats_stack_inuse_bytes",
	"go_memstats_mspan_inuse_bytes",
	"go_memstats_other_sys_bytes",
	"go_memstats_gc_sys_bytes",
	"go_goroutines",
	"herald_connections",
}

func (s *server) sample(ctx context.Context) (sample, error) {
	var sm sample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return sm, fmt.Errorf("read the server's RSS: %w", err)
	}
	sm.rss, sm.anon = procKB(status, "VmRSS:")*1024, procKB(status, "RssAnon:")*1024
	if sm.rss == 0 {
		return sm, errors.New("no VmRSS in /proc/PID/status")
	}
	body, err := s.fetch(ctx, "/metrics")
	if err != nil {
		return sm, err
	}
	defer body.Close()
	sm.metric = map[string]float64{}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for _, w := range wantMetrics {
			if name == w {
				v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				if err != nil {
					return sm, fmt.Errorf("metric %s: %w", name, err)
				}
				sm.metric[name] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sm, err
	}
	for _, w := range wantMetrics {
		if _, ok := sm.metric[w]; !ok {
			return sm, fmt.Errorf("/metrics has no %s", w)
		}
	}
	return sm, nil
}

func procKB(status []byte, field string) int64 {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			f := strings.Fields(string(rest))
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

func (s *server) saveProfiles(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for file, path := range map[string]string{
		"heap.pb.gz":     "/debug/pprof/heap",
		"goroutines.txt": "/debug/pprof/goroutine?debug=1",
	} {
		body, err := s.fetch(ctx, path)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "saved the server's heap profile and goroutines in %s\n", dir)
	return nil
}

// client is one idle connection: after connect and subscribe it only
// reads, answering the server's application-level pings.
type client struct {
	conn *cws.Conn
	done chan struct{}
	mu   sync.Mutex
	fail error
}

func (c *client) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fail
}

// openAll dials o.conns connections, o.dialers at a time, and returns
// once each has read its connect and subscribe replies.
func openAll(ctx context.Context, url string, o options) ([]*client, error) {
	clients := make([]*client, o.conns)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dialers := sourceClients(o.conns)
	var wg sync.WaitGroup
	for range o.dialers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.conns || ctx.Err() != nil {
					return
				}
				c, err := open(ctx, url, fmt.Sprintf("idle-%d", i%o.channels), o.compress, dialers[i%len(dialers)])
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					cancel()
					return
				}
				clients[i] = c
			}
		})
	}
	wg.Wait()
	opened := clients[:0]
	for _, c := range clients {
		if c != nil {
			opened = append(opened, c)
		}
	}
	return opened, firstErr
}

// sourceClients are the HTTP clients to dial from: one source address
// has about 28,000 ephemeral ports, so past 25,000 connections they leave
// from 127.0.0.1, 127.0.0.2, ... round-robin (Linux answers on all of
// 127.0.0.0/8); below that, the default client.
func sourceClients(conns int) []*http.Client {
	n := (conns + 24999) / 25000
	if n <= 1 {
		return []*http.Client{nil}
	}
	clients := make([]*http.Client, n)
	for i := range clients {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(i+1))}, Timeout: 10 * time.Second}
		clients[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	return clients
}

func open(ctx context.Context, url, channel string, compress bool, hc *http.Client) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opts := &cws.DialOptions{Subprotocols: []string{"herald.json"}, HTTPClient: hc}
	if compress {
		opts.CompressionMode = cws.CompressionNoContextTakeover
	}
	conn, resp, err := cws.Dial(ctx, url, opts)
	if err != nil {
		if resp != nil && resp.Body != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("%w: %s", err, bytes.TrimSpace(body))
		}
		return nil, err
	}
	if err := call(ctx, conn, `{"id":1,"connect":{}}`, `{"id":1,"connect":`); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := call(ctx, conn, `{"id":2,"subscribe":{"channel":"`+channel+`"}}`, `{"id":2,"subscribe":`); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	c := &client{conn: conn, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// call sends a command and reads until its reply, which must start with want.
func call(ctx context.Context, conn *cws.Conn, command, want string) error {
	if err := conn.Write(ctx, cws.MessageText, []byte(command)); err != nil {
		return err
	}
	for {
		_, frame, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		for line := range bytes.SplitSeq(frame, []byte("\n")) {
			if bytes.HasPrefix(line, []byte(want)) {
				return nil
			}
			if bytes.Contains(line, []byte(`"error"`)) {
				return fmt.Errorf("server replied %s", line)
			}
		}
	}
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		_, frame, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.fail = err
			c.mu.Unlock()
			return
		}
		for line := range bytes.SplitSeq(frame, []byte("\n")) {
			if bytes.Equal(line, []byte(`{"ping":{}}`)) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = c.conn.Write(ctx, cws.MessageText, []byte(`{"pong":{}}`))
				cancel()
			}
		}
	}
}

// closeAll drops the connections without a closing handshake: the server
// is stopped by then or about to be.
func closeAll(clients []*client) {
	for _, c := range clients {
		c.conn.CloseNow()
	}
	for _, c := range clients {
		<-c.done
	}
}

func report(w io.Writer, n int, o options, before, after sample) {
	perConn := func(a, b float64) string { return fmt.Sprintf("%.0f", (a-b)/float64(n)) }
	mib := func(v int64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	metric := func(name string) (float64, float64) { return before.metric[name], after.metric[name] }

	fmt.Fprintf(w, "idle WebSocket connections: %d (compression offered: %v, %d channels)\n\n", n, o.compress, o.channels)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tbefore\tafter\tper connection\t")
	fmt.Fprintf(tw, "RSS (VmRSS)\t%s\t%s\t%s B\t\n", mib(before.rss), mib(after.rss), perConn(float64(after.rss), float64(before.rss)))
	fmt.Fprintf(tw, "anonymous RSS (RssAnon)\t%s\t%s\t%s B\t\n", mib(before.anon), mib(after.anon), perConn(float64(after.anon), float64(before.anon)))
	hb, ha := metric("go_memstats_heap_inuse_bytes")
	fmt.Fprintf(tw, "Go heap in use\t%s\t%s\t%s B\t\n", mib(int64(hb)), mib(int64(ha)), perConn(ha, hb))
	ib, ia := metric("go_memstats_heap_idle_bytes")
	rb, ra := metric("go_memstats_heap_released_bytes")
	fmt.Fprintf(tw, "Go heap free, not returned to the OS\t%s\t%s\t%s B\t\n", mib(int64(ib-rb)), mib(int64(ia-ra)), perConn(ia-ra, ib-rb))
	sb, sa := metric("go_memstats_stack_inuse_bytes")
	fmt.Fprintf(tw, "goroutine stacks\t%s\t%s\t%s B\t\n", mib(int64(sb)), mib(int64(sa)), perConn(sa, sb))
	var rtb, rta float64
	for _, name := range []string{"go_memstats_mspan_inuse_bytes", "go_memstats_other_sys_bytes", "go_memstats_gc_sys_bytes"} {
		b, a := metric(name)
		rtb, rta = rtb+b, rta+a
	}
	fmt.Fprintf(tw, "runtime metadata (spans, GC, other)\t%s\t%s\t%s B\t\n", mib(int64(rtb)), mib(int64(rta)), perConn(rta, rtb))
	gb, ga := metric("go_goroutines")
	fmt.Fprintf(tw, "goroutines\t%.0f\t%.0f\t%.2f\t\n", gb, ga, (ga-gb)/float64(n))
	tw.Flush()
}
