package websocket

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AdmissionOptions cap how fast new WebSocket connections are let in, so
// that a restart bringing every client back at once cannot take the node
// down again. Past a cap the upgrade is answered 503 with Retry-After. A
// zero Rate or RatePerIP switches that cap off.
type AdmissionOptions struct {
	// Rate is the new connections per second one node admits.
	Rate float64
	// Burst is how many it admits at once above Rate. Default 2×Rate.
	Burst float64
	// RatePerIP is the new connections per second from one client
	// address. Loopback peers are not counted when ClientIPHeader is
	// empty: they are a proxy or a tool on the same machine.
	RatePerIP float64
	// BurstPerIP is how many one address may open at once. Default
	// 2×RatePerIP.
	BurstPerIP float64
	// MaxWait is the longest Retry-After given: refused clients are
	// spread over the coming seconds at Rate, up to this. Default 30s.
	MaxWait time.Duration
	// ClientIPHeader names the header a trusted proxy puts the client's
	// address in (X-Forwarded-For: its last entry, X-Real-IP); empty: the
	// TCP peer's address. Only set it behind a proxy that overwrites the
	// header, or clients choose their own address.
	ClientIPHeader string
}

func (o *AdmissionOptions) setDefaults() {
	if o.Burst <= 0 {
		o.Burst = 2 * o.Rate
	}
	if o.BurstPerIP <= 0 {
		o.BurstPerIP = 2 * o.RatePerIP
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Second
	}
}

// maxTrackedIPs bounds the per-address table: past it (after dropping
// addresses whose bucket is full again) new addresses are held to the node
// cap only, so many source addresses cannot grow memory without bound.
const maxTrackedIPs = 1 << 16

// admission is the token buckets of one handler.
type admission struct {
	opts      AdmissionOptions
	mu        sync.Mutex
	node      bucket
	ips       map[string]*bucket
	lastSweep time.Time
	now       func() time.Time
}

// bucket is a token bucket that also hands out return times: each refused
// client is told a later slot than the one before, so a storm comes back
// spread at the rate instead of all at the same second.
type bucket struct {
	tokens float64
	last   time.Time
	next   time.Time // the latest return slot promised
}

func newAdmission(o AdmissionOptions) *admission {
	o.setDefaults()
	return &admission{opts: o, ips: map[string]*bucket{}, now: time.Now,
		node: bucket{tokens: o.Burst}}
}

// take spends a token, or says how long to wait for one.
func (b *bucket) take(now time.Time, rate, burst float64, maxWait time.Duration) (ok bool, wait time.Duration) {
	if !b.last.IsZero() {
		b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if b.next.Before(now) {
		b.next = now.Add(time.Duration((1 - b.tokens) / rate * float64(time.Second)))
	} else {
		b.next = b.next.Add(time.Duration(float64(time.Second) / rate))
	}
	wait = b.next.Sub(now)
	if wait > maxWait {
		b.next = now.Add(maxWait)
		wait = maxWait
	}
	return false, wait
}

// admit decides one upgrade; scope says which cap refused it ("node" or
// "ip"), wait how long the client is to stay away.
func (a *admission) admit(ip string) (ok bool, scope string, wait time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	o := &a.opts
	var b *bucket
	if o.RatePerIP > 0 && ip != "" {
		if b = a.ipBucket(ip, now); b != nil {
			if ok, wait := b.take(now, o.RatePerIP, o.BurstPerIP, o.MaxWait); !ok {
				return false, "ip", wait
			}
		}
	}
	if o.Rate > 0 {
		if ok, wait := a.node.take(now, o.Rate, o.Burst, o.MaxWait); !ok {
			if b != nil {
				b.tokens++ // not let in: the address keeps its token
			}
			return false, "node", wait
		}
	}
	return true, "", 0
}

func (a *admission) ipBucket(ip string, now time.Time) *bucket {
	if b, ok := a.ips[ip]; ok {
		return b
	}
	if len(a.ips) >= maxTrackedIPs || now.Sub(a.lastSweep) > 10*time.Second {
		a.sweep(now)
	}
	if len(a.ips) >= maxTrackedIPs {
		return nil
	}
	b := &bucket{tokens: a.opts.BurstPerIP}
	a.ips[ip] = b
	return b
}

// sweep forgets addresses whose bucket has filled up again: a new bucket
// would start the same.
func (a *admission) sweep(now time.Time) {
	a.lastSweep = now
	full := time.Duration(a.opts.BurstPerIP / a.opts.RatePerIP * float64(time.Second))
	for ip, b := range a.ips {
		if now.Sub(b.last) > full && now.After(b.next) {
			delete(a.ips, ip)
		}
	}
}

// clientIP is the address the per-IP caps count: the configured proxy
// header's, else the TCP peer's; empty for a loopback peer, which is not
// counted.
func clientIP(r *http.Request, header string) string {
	if header != "" {
		v := r.Header.Values(header)
		if len(v) > 0 {
			// X-Forwarded-For: the last entry is the one our proxy added.
			parts := strings.Split(v[len(v)-1], ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if header == "" && isLoopback(host) {
		return ""
	}
	return host
}

// retryAfter is the header's value: whole seconds, at least 1.
func retryAfter(wait time.Duration) string {
	s := int(math.Ceil(wait.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}
