package websocket

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/heraldrt/herald/metrics"
)

// HandshakeLimits cap the connections whose HTTP request is still being
// read: a client sending its headers a byte at a time holds a descriptor
// for the whole header timeout, and enough of them lock every other client
// out. Zero fields take the defaults noted; negative switches a cap off.
type HandshakeLimits struct {
	// Max is the unfinished requests one node holds. Default 1024.
	Max int
	// PerIP is the unfinished requests from one TCP peer address.
	// Default 64. Loopback peers are not capped: they are a proxy or a
	// tool on the same machine. Behind a remote proxy every client has the
	// proxy's address: switch it off there and let the proxy time out
	// slow clients.
	PerIP int
	// Logger receives one line per burst of refusals. Default
	// slog.Default().
	Logger *slog.Logger
	// Metrics counts the refusals (herald_handshake_refusals_total with
	// reason handshakes_node or handshakes_ip).
	Metrics *metrics.Metrics
}

// HandshakeLimiter enforces HandshakeLimits from an http.Server's
// ConnState hook, before any byte of the request is read; a connection
// over a cap gets a bare 503 with Retry-After and is closed.
type HandshakeLimiter struct {
	o       HandshakeLimits
	mu      sync.Mutex
	total   int
	perIP   map[string]int
	counted map[net.Conn]string // the connections in total, by address
	// Refusals are logged once per burst, not once each: an attack
	// would otherwise write the log as fast as it connects.
	refused    int
	lastLogged time.Time
}

// NewHandshakeLimiter returns a limiter; set its ConnState on the server.
func NewHandshakeLimiter(o HandshakeLimits) *HandshakeLimiter {
	if o.Max == 0 {
		o.Max = 1024
	}
	if o.PerIP == 0 {
		o.PerIP = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	return &HandshakeLimiter{o: o, perIP: map[string]int{}, counted: map[net.Conn]string{}}
}

// refusal is what a connection over a cap is sent: the client has not
// finished its request, but an HTTP client reads this as the answer.
var refusal = func() []byte {
	body := `{"error":{"code":114,"message":"too many connections in handshake: retry after Retry-After"}}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// ConnState is the http.Server hook.
func (l *HandshakeLimiter) ConnState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		ip := peerIP(c)
		if scope := l.enter(c, ip, true); scope != "" {
			l.refuse(c, ip, scope)
		}
	case http.StateActive:
		// A kept-alive connection starting its next request.
		l.enter(c, peerIP(c), false)
	case http.StateIdle, http.StateHijacked, http.StateClosed:
		l.leave(c)
	}
}

// enter counts c as unfinished; with check, it refuses instead when a cap
// is reached, returning which.
func (l *HandshakeLimiter) enter(c net.Conn, ip string, check bool) (scope string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.counted[c]; ok {
		return ""
	}
	if check {
		if l.o.Max > 0 && l.total >= l.o.Max {
			return "handshakes_node"
		}
		if l.o.PerIP > 0 && !isLoopback(ip) && l.perIP[ip] >= l.o.PerIP {
			return "handshakes_ip"
		}
	}
	l.counted[c] = ip
	l.total++
	l.perIP[ip]++
	return ""
}

func (l *HandshakeLimiter) leave(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ip, ok := l.counted[c]
	if !ok {
		return
	}
	delete(l.counted, c)
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

func (l *HandshakeLimiter) refuse(c net.Conn, ip, scope string) {
	l.o.Metrics.Handshakes.WithLabelValues(scope).Inc()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(refusal)
	_ = c.Close()
	l.mu.Lock()
	l.refused++
	if time.Since(l.lastLogged) < 10*time.Second {
		l.mu.Unlock()
		return
	}
	n := l.refused
	l.refused, l.lastLogged = 0, time.Now()
	l.mu.Unlock()
	l.o.Logger.Warn("connections refused: too many unfinished handshakes", "reason", scope, "remote", ip,
		"refused", n, "max", l.o.Max, "per_ip", l.o.PerIP, "setting", "admission.max_handshakes, admission.max_handshakes_per_ip")
}

func peerIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

func isLoopback(ip string) bool {
	a := net.ParseIP(ip)
	return a != nil && a.IsLoopback()
}
