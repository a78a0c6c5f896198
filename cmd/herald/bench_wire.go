package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// benchWire counts the bytes every connection of a run sends and receives
// on its TCP sockets: HTTP headers, WebSocket framing, SSE fields, chunked
// encoding and the POSTs of the HTTP fallbacks included, which is what
// --transport compares. Every bench connection dials through client, from
// the next of --source-addrs.
type benchWire struct {
	sent, received atomic.Int64
	client         *http.Client
}

func newBenchWire(conns int, sources *benchSources) *benchWire {
	w := &benchWire{}
	w.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, LocalAddr: sources.local()}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countedConn{Conn: c, w: w}, nil
		},
		// The fallbacks POST every command and pong: keep a connection
		// for each stream's POSTs rather than dialing one per POST.
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     time.Minute,
	}}
	return w
}

// snapshot is the bytes sent and received so far.
func (w *benchWire) snapshot() (sent, received int64) {
	return w.sent.Load(), w.received.Load()
}

type countedConn struct {
	net.Conn
	w *benchWire
}

func (c *countedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.received.Add(int64(n))
	return n, err
}

func (c *countedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.sent.Add(int64(n))
	return n, err
}

// benchServerMetric reads one unlabelled sample (process_resident_memory_bytes,
// process_cpu_seconds_total) from the server's /metrics; ok is false when
// there is none (a server without metrics, or a proxy that does not pass
// them).
func benchServerMetric(ctx context.Context, metricsURL, name string) (v float64, ok bool) {
	v, ok = benchServerMetrics(ctx, metricsURL, 5*time.Second, name)[name]
	return v, ok
}

// benchCost is what the publishing cost, from its start to the end of the
// drain: the bytes on the wire both ways (publications and pings down,
// pongs up) and the server's CPU time (process_cpu_seconds_total, which
// includes serving the publish API calls).
type benchCost struct {
	sent, received int64
	cpu            float64
	cpuOK          bool
}

func (c *benchCost) start(ctx context.Context, cfg benchConfig) {
	c.sent, c.received = cfg.wire.snapshot()
	c.cpu, c.cpuOK = benchServerMetric(ctx, cfg.metricsURL, "process_cpu_seconds_total")
}

func (c *benchCost) end(ctx context.Context, cfg benchConfig) {
	sent, received := cfg.wire.snapshot()
	c.sent, c.received = sent-c.sent, received-c.received
	cpu, ok := benchServerMetric(ctx, cfg.metricsURL, "process_cpu_seconds_total")
	c.cpu, c.cpuOK = cpu-c.cpu, ok && c.cpuOK
}

// benchCostJSON is benchCost in the --json output, per delivery where
// there were deliveries.
type benchCostJSON struct {
	BytesReceived            int64    `json:"wire_bytes_received"`
	BytesSent                int64    `json:"wire_bytes_sent"`
	BytesReceivedPerDelivery float64  `json:"wire_bytes_received_per_delivery"`
	BytesSentPerDelivery     float64  `json:"wire_bytes_sent_per_delivery"`
	ServerCPUSeconds         *float64 `json:"server_cpu_seconds"`
	ServerCPUPerDelivery     *float64 `json:"server_cpu_us_per_delivery"`
}

func (c *benchCost) summary(deliveries int64) benchCostJSON {
	out := benchCostJSON{BytesReceived: c.received, BytesSent: c.sent}
	if c.cpuOK {
		cpu := c.cpu
		out.ServerCPUSeconds = &cpu
	}
	if deliveries > 0 {
		out.BytesReceivedPerDelivery = float64(c.received) / float64(deliveries)
		out.BytesSentPerDelivery = float64(c.sent) / float64(deliveries)
		if c.cpuOK {
			us := c.cpu * 1e6 / float64(deliveries)
			out.ServerCPUPerDelivery = &us
		}
	}
	return out
}

// rows are the cost in the text and HTML summaries.
func (c benchCostJSON) rows() [][2]string {
	cpu := "unknown (no process_cpu_seconds_total at /metrics)"
	if c.ServerCPUPerDelivery != nil {
		cpu = fmt.Sprintf("%.2fµs per delivery (%.2fs)", *c.ServerCPUPerDelivery, *c.ServerCPUSeconds)
	}
	return [][2]string{
		{"bytes on the wire", fmt.Sprintf("%.1f received, %.1f sent per delivery (%d and %d in all)", c.BytesReceivedPerDelivery, c.BytesSentPerDelivery, c.BytesReceived, c.BytesSent)},
		{"server CPU", cpu},
	}
}
