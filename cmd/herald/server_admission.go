package main

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldrt/herald/metrics"
	"github.com/heraldrt/herald/websocket"
)

// admissionOptions turns the admission section into the WebSocket
// handler's rate caps (0 is off in both).
func admissionOptions(a AdmissionConfig) websocket.AdmissionOptions {
	return websocket.AdmissionOptions{
		Rate:           float64(a.Rate),
		Burst:          float64(a.Burst),
		RatePerIP:      float64(a.RatePerIP),
		BurstPerIP:     float64(a.BurstPerIP),
		MaxWait:        time.Duration(a.MaxWait),
		ClientIPHeader: a.ClientIPHeader,
	}
}

// handshakeLimiter caps unfinished requests: max_handshakes, by default
// half the open-file limit so the other half is left for the connections
// let in; per address unless a proxy's header names the clients.
func handshakeLimiter(a AdmissionConfig, fdLimit uint64, log *slog.Logger, m *metrics.Metrics) *websocket.HandshakeLimiter {
	limits := websocket.HandshakeLimits{Max: a.MaxHandshakes, PerIP: a.MaxHandshakesPerIP, Logger: log, Metrics: m}
	if limits.Max == 0 && fdLimit > 0 {
		limits.Max = int(min(fdLimit/2, 1<<20))
	}
	if limits.PerIP == 0 || a.ClientIPHeader != "" {
		limits.PerIP = -1
	}
	return websocket.NewHandshakeLimiter(limits)
}

// fdWarnings counts the times the process came near its open-file limit.
func fdWarnings(m *metrics.Metrics) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "herald_fd_limit_warnings_total",
		Help: "Times the open descriptors crossed 80% of the open-file limit (process_max_fds).",
	})
	_ = m.Register(c)
	return c
}
