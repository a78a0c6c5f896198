package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// benchResult is a finished run: its parameters, counts and timings.
type benchResult struct {
	cfg   benchConfig
	stats *benchStats

	start, publishStart, publishEnd, end time.Time

	ConnectSeconds     float64
	ServerRSSBefore    *int64 // before the first connection
	ServerRSSConnected *int64 // with every connection open, before publishing
	ServerRSS          *int64 // after publishing, connections still open
	wire               benchCost
	// Aborted says why the run stopped early, or is "".
	Aborted string
}

// benchJSON is the --json output. The first names are fixed: scripts
// compare runs by them.
type benchJSON struct {
	Publications          int64             `json:"publications"`
	Deliveries            int64             `json:"deliveries"`
	ExpectedDeliveries    int64             `json:"expected_deliveries"`
	Errors                int64             `json:"errors"`
	P50                   float64           `json:"p50_ms"`
	P90                   float64           `json:"p90_ms"`
	P99                   float64           `json:"p99_ms"`
	P999                  float64           `json:"p999_ms"`
	Max                   float64           `json:"max_ms"`
	ConnectP50            float64           `json:"connect_p50_ms"`
	ConnectP99            float64           `json:"connect_p99_ms"`
	DeliveriesPerSecond   float64           `json:"deliveries_per_second"`
	ServerRSS             *int64            `json:"server_rss_bytes"`
	ServerRSSBefore       *int64            `json:"server_rss_before_bytes"`
	ServerRSSConnected    *int64            `json:"server_rss_connected_bytes"`
	ErrorsByCode          map[string]int64  `json:"errors_by_code"`
	ErrorExamples         map[string]string `json:"error_examples"`
	ConnectP90            float64           `json:"connect_p90_ms"`
	ConnectMax            float64           `json:"connect_max_ms"`
	SubscribeP50          float64           `json:"subscribe_p50_ms"`
	SubscribeP99          float64           `json:"subscribe_p99_ms"`
	PublishP50            float64           `json:"publish_p50_ms"`
	PublishP99            float64           `json:"publish_p99_ms"`
	Connections           int64             `json:"connections"`
	ConnectSeconds        float64           `json:"connect_seconds"`
	ConnectionsPerSecond  float64           `json:"connections_per_second"`
	PublicationsPerSecond float64           `json:"publications_per_second"`
	PublishSeconds        float64           `json:"publish_seconds"`
	Aborted               string            `json:"aborted,omitempty"`
	Params                benchParams       `json:"params"`
	Series                []benchSecond     `json:"series"`
	// The cost of the publishing, flattened in: wire_bytes_..., server_cpu_...
	benchCostJSON
}

// benchParams echoes the flags, so that a saved result says what it measured.
type benchParams struct {
	URL             string  `json:"url"`
	Transport       string  `json:"transport"`
	Conns           int     `json:"conns"`
	Channels        int     `json:"channels"`
	Rate            float64 `json:"rate"`
	Payload         int     `json:"payload"`
	Ramp            float64 `json:"ramp"`
	DurationSeconds float64 `json:"duration_seconds"`
	TimeoutSeconds  float64 `json:"timeout_seconds"`
}

func benchMS(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// summary gathers every figure once, for the three outputs.
func (r *benchResult) summary() benchJSON {
	s := r.stats
	lat, con := s.latency.snapshot(), s.connect.snapshot()
	sub, pub := s.subscribe.snapshot(), s.publish.snapshot()
	out := benchJSON{
		Publications:       s.publications.Load(),
		Deliveries:         s.deliveries.Load(),
		ExpectedDeliveries: s.expected.Load(),
		Errors:             s.nerrs.Load(),
		P50:                benchMS(lat.quantile(0.50)),
		P90:                benchMS(lat.quantile(0.90)),
		P99:                benchMS(lat.quantile(0.99)),
		P999:               benchMS(lat.quantile(0.999)),
		Max:                benchMS(lat.max),
		ConnectP50:         benchMS(con.quantile(0.50)),
		ConnectP90:         benchMS(con.quantile(0.90)),
		ConnectP99:         benchMS(con.quantile(0.99)),
		ConnectMax:         benchMS(con.max),
		SubscribeP50:       benchMS(sub.quantile(0.50)),
		SubscribeP99:       benchMS(sub.quantile(0.99)),
		PublishP50:         benchMS(pub.quantile(0.50)),
		PublishP99:         benchMS(pub.quantile(0.99)),
		ServerRSS:          r.ServerRSS,
		ServerRSSBefore:    r.ServerRSSBefore,
		ServerRSSConnected: r.ServerRSSConnected,
		ErrorsByCode:       map[string]int64{},
		ErrorExamples:      map[string]string{},
		Connections:        s.opened.Load(),
		ConnectSeconds:     r.ConnectSeconds,
		Aborted:            r.Aborted,
		Series:             s.series,
		benchCostJSON:      r.wire.summary(s.deliveries.Load()),
		Params: benchParams{
			URL: cmp.Or(r.cfg.streamURL, r.cfg.wsURL), Transport: r.cfg.transport, Conns: r.cfg.conns, Channels: r.cfg.channels, Rate: r.cfg.rate,
			Payload: r.cfg.payload, Ramp: r.cfg.ramp,
			DurationSeconds: r.cfg.duration.Seconds(), TimeoutSeconds: r.cfg.timeout.Seconds(),
		},
	}
	if out.Series == nil {
		out.Series = []benchSecond{}
	}
	for k, e := range s.errors() {
		out.ErrorsByCode[k] = e.Count
		out.ErrorExamples[k] = e.Example
	}
	if r.ConnectSeconds > 0 {
		out.ConnectionsPerSecond = float64(out.Connections) / r.ConnectSeconds
	}
	if !r.publishStart.IsZero() {
		out.PublishSeconds = r.publishEnd.Sub(r.publishStart).Seconds()
		// The last publication is due 1/rate before the end of
		// --duration, so a run on time lasts slightly less than it.
		if d := max(out.PublishSeconds, r.cfg.duration.Seconds()); d > 0 {
			out.PublicationsPerSecond = float64(out.Publications) / d
		}
		// Deliveries over the time they took: from the first publication
		// to the last delivery, which includes the drain.
		if last := s.lastDelivery.Load(); last > 0 {
			if d := time.Unix(0, last).Sub(r.publishStart).Seconds(); d > 0 {
				out.DeliveriesPerSecond = float64(out.Deliveries) / d
			}
		}
	}
	return out
}

// failure says why the run failed, or "" when it passed.
func (r *benchResult) failure() string {
	s := r.summary()
	var why []string
	if s.Aborted != "" {
		why = append(why, s.Aborted)
	}
	if s.Errors > 0 {
		why = append(why, fmt.Sprintf("%d errors", s.Errors))
	}
	if s.Deliveries != s.ExpectedDeliveries {
		why = append(why, fmt.Sprintf("%d deliveries, %d expected", s.Deliveries, s.ExpectedDeliveries))
	}
	if s.Publications == 0 && s.Aborted == "" {
		why = append(why, "no publication")
	}
	return strings.Join(why, "; ")
}

func (r *benchResult) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r.summary())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// benchMsText prints milliseconds with enough digits for loopback figures.
func benchMsText(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3fms", v)
	case v < 100:
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

func benchBytesText(p *int64) string {
	if p == nil {
		return "unknown (no process_resident_memory_bytes at /metrics)"
	}
	return fmt.Sprintf("%.1f MiB", float64(*p)/(1<<20))
}

// rows are the summary as label and value, shared by the text and HTML
// outputs.
func (s benchJSON) rows() [][2]string {
	lat := fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s", benchMsText(s.P50), benchMsText(s.P90), benchMsText(s.P99), benchMsText(s.P999), benchMsText(s.Max))
	if s.Deliveries == 0 {
		lat = "no deliveries"
	}
	pub := fmt.Sprintf("p50 %s  p99 %s", benchMsText(s.PublishP50), benchMsText(s.PublishP99))
	if s.Publications == 0 {
		pub = "no publication accepted"
	}
	rows := [][2]string{
		{"connections", fmt.Sprintf("%d of %d in %.1fs (%.0f/s)", s.Connections, s.Params.Conns, s.ConnectSeconds, s.ConnectionsPerSecond)},
		{"connect (dial to reply)", fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", benchMsText(s.ConnectP50), benchMsText(s.ConnectP90), benchMsText(s.ConnectP99), benchMsText(s.ConnectMax))},
		{"subscribe", fmt.Sprintf("p50 %s  p99 %s", benchMsText(s.SubscribeP50), benchMsText(s.SubscribeP99))},
		{"publish (POST /api/publish)", pub},
		{"delivery latency", lat},
		{"publications", fmt.Sprintf("%d in %.1fs (%.1f/s)", s.Publications, s.PublishSeconds, s.PublicationsPerSecond)},
		{"deliveries", fmt.Sprintf("%d of %d expected (%.0f/s)", s.Deliveries, s.ExpectedDeliveries, s.DeliveriesPerSecond)},
		{"errors", fmt.Sprint(s.Errors)},
		{"server RSS", fmt.Sprintf("%s (before connecting %s, connected and idle %s)", benchBytesText(s.ServerRSS), benchBytesText(s.ServerRSSBefore), benchBytesText(s.ServerRSSConnected))},
	}
	if s.Publications > 0 {
		rows = append(rows, s.benchCostJSON.rows()...)
	}
	if s.Aborted != "" {
		rows = append(rows, [2]string{"stopped early", s.Aborted})
	}
	return rows
}

func (r *benchResult) writeText(w io.Writer) {
	s := r.summary()
	fmt.Fprintf(w, "herald bench %s over %s: %d connections over %d channels, %g publications/s of %d bytes of padding for %s\n\n",
		s.Params.URL, s.Params.Transport, s.Params.Conns, s.Params.Channels, s.Params.Rate, s.Params.Payload, r.cfg.duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range s.rows() {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	for _, k := range benchSortedKeys(s.ErrorsByCode) {
		fmt.Fprintf(tw, "  %s\t%d, e.g. %s\n", k, s.ErrorsByCode[k], truncateText(s.ErrorExamples[k], 160))
	}
	tw.Flush()
}
