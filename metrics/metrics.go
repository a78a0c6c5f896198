// Package metrics defines Herald's Prometheus metrics. One *Metrics is made
// per server with New and handed to the parts that count; Handler serves
// them at /metrics.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector. The fields are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	Connections   prometheus.Gauge
	Opened        *prometheus.CounterVec // connections accepted, by transport
	Subscriptions prometheus.Gauge
	Channels      prometheus.Gauge

	MessagesIn  *prometheus.CounterVec // by transport
	MessagesOut *prometheus.CounterVec
	BytesIn     *prometheus.CounterVec
	BytesOut    *prometheus.CounterVec

	Disconnects    *prometheus.CounterVec // by code, name and transport
	CommandErrors  *prometheus.CounterVec // by code and name
	Publications   *prometheus.CounterVec // by source: api, client
	PublishLatency prometheus.Histogram
	QueueDrops     prometheus.Counter
	QueueDepth     prometheus.Histogram   // bytes of the batches writers take from connections' queues, one in 16
	Recoveries     *prometheus.CounterVec // by outcome: recovered true or false
	Handshakes     *prometheus.CounterVec // refused handshakes by reason
	APIRequests    *prometheus.CounterVec // by method and status
	// HistoryHTTP counts GET /history/ answers by page (final, open,
	// not_modified, error): what caches in front did not absorb.
	HistoryHTTP *prometheus.CounterVec

	HookCalls   *prometheus.CounterVec   // backend hook calls by hook and result: ok, refused, error, timeout, canceled
	HookLatency *prometheus.HistogramVec // backend hook call duration by hook
}

// New makes the collectors and registers them, with Go runtime and process
// metrics, in a registry of their own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_connections", Help: "Open client connections."}),
		Opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_connections_opened_total", Help: "Client connections accepted, by transport (websocket, sse, http_stream): with herald_disconnects_total, how many clients are on the HTTP fallbacks."}, []string{"transport"}),
		Subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_subscriptions", Help: "Subscriptions of all connections."}),
		Channels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_channels", Help: "Channels with at least one local subscriber."}),
		MessagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_messages_received_total", Help: "Messages received from clients."}, []string{"transport"}),
		MessagesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_messages_sent_total", Help: "Messages sent to clients (several may share a frame)."}, []string{"transport"}),
		BytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_bytes_received_total", Help: "Payload bytes received from clients."}, []string{"transport"}),
		BytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_bytes_sent_total", Help: "Payload bytes sent to clients, before compression."}, []string{"transport"}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_disconnects_total", Help: "Connections ended, by disconnect code and transport."}, []string{"code", "name", "transport"}),
		CommandErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_command_errors_total", Help: "Error replies to client commands, by error code."}, []string{"code", "name"}),
		Publications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_publications_total", Help: "Publications accepted, by source."}, []string{"source"}),
		PublishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_publish_duration_seconds", Help: "Time to publish: broker append and local fan-out.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10)}),
		Recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_recoveries_total", Help: "Subscribes with recover, by whether every missed publication was replayed."}, []string{"recovered"}),
		QueueDepth: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_queue_depth_bytes", Help: "Bytes queued for a connection when a writer drains it, sampled (one write in 16 of each writer): how far behind connections run.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 9)}),
		QueueDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_queue_drops_total", Help: "Connections cut because their outbound queue overflowed (slow clients)."}),
		Handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_handshake_refusals_total", Help: "WebSocket handshakes refused, by reason."}, []string{"reason"}),
		APIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_api_requests_total", Help: "Server API requests, by method and HTTP status."}, []string{"method", "status"}),
		HistoryHTTP: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_history_http_requests_total", Help: "GET /history/ requests that reached this node, by answer: final (immutable page), open (the open end), not_modified, error."}, []string{"page"}),
		HookCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_hook_calls_total", Help: "Calls to the application backend's hooks, by hook and result (ok, refused, error, timeout, canceled)."}, []string{"hook", "result"}),
		HookLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "herald_hook_duration_seconds", Help: "Time the application backend's hooks took to answer, by hook.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"hook"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Connections, m.Opened, m.Subscriptions, m.Channels,
		m.MessagesIn, m.MessagesOut, m.BytesIn, m.BytesOut,
		m.Disconnects, m.CommandErrors, m.Publications, m.PublishLatency,
		m.QueueDrops, m.QueueDepth, m.Recoveries, m.Handshakes, m.APIRequests,
		m.HookCalls, m.HookLatency, m.HistoryHTTP,
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Disconnect counts one ended connection.
func (m *Metrics) Disconnect(code uint16, name, transport string) {
	m.Disconnects.WithLabelValues(strconv.Itoa(int(code)), name, transport).Inc()
}

// CommandError counts one error reply.
func (m *Metrics) CommandError(code uint32, name string) {
	m.CommandErrors.WithLabelValues(strconv.FormatUint(uint64(code), 10), name).Inc()
}
