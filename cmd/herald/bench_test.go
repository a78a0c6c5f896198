package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchOutput is the part of `herald bench --json` the tests check.
type benchOutput struct {
	Publications        int64            `json:"publications"`
	Deliveries          int64            `json:"deliveries"`
	ExpectedDeliveries  int64            `json:"expected_deliveries"`
	Errors              int64            `json:"errors"`
	P50                 float64          `json:"p50_ms"`
	P90                 float64          `json:"p90_ms"`
	P99                 float64          `json:"p99_ms"`
	P999                float64          `json:"p999_ms"`
	Max                 float64          `json:"max_ms"`
	ConnectP50          float64          `json:"connect_p50_ms"`
	ConnectP99          float64          `json:"connect_p99_ms"`
	DeliveriesPerSecond float64          `json:"deliveries_per_second"`
	ServerRSS           *int64           `json:"server_rss_bytes"`
	Connections         int64            `json:"connections"`
	ErrorsByCode        map[string]int64 `json:"errors_by_code"`
}

func decodeBenchOutput(t *testing.T, stdout, stderr string) benchOutput {
	t.Helper()
	if strings.Count(stdout, "\n") != 1 {
		t.Fatalf("herald bench --json printed %q, want one line\nstderr:\n%s", stdout, stderr)
	}
	var out benchOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("herald bench --json printed %q: %v", stdout, err)
	}
	return out
}

// TestBenchTinyRun checks that a small run's numbers agree with each
// other; how fast it was is for the benchmarks, not for pass/fail.
func TestBenchTinyRun(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	stdout, stderr, code := runHerald(t, []string{"HERALD_API_KEY=" + testAPIKey}, "",
		"bench", "--conns", "5", "--channels", "2", "--rate", "50", "--duration", "1s", "--json", base)
	if code != 0 {
		t.Fatalf("herald bench: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	out := decodeBenchOutput(t, stdout, stderr)

	if out.Errors != 0 || len(out.ErrorsByCode) != 0 {
		t.Errorf("errors %d %v, want none", out.Errors, out.ErrorsByCode)
	}
	if out.Connections != 5 {
		t.Errorf("connections %d, want 5", out.Connections)
	}
	if out.Publications != 50 {
		t.Errorf("publications %d, want 50 (50/s for 1s)", out.Publications)
	}
	// Connections 0, 2, 4 subscribe to the first channel and 1, 3 to the
	// second; publication k goes to channel k mod 2.
	want := (out.Publications+1)/2*3 + out.Publications/2*2
	if out.ExpectedDeliveries != want || out.Deliveries != want {
		t.Errorf("deliveries %d, expected_deliveries %d, want both %d for %d publications",
			out.Deliveries, out.ExpectedDeliveries, want, out.Publications)
	}
	q := []float64{out.P50, out.P90, out.P99, out.P999, out.Max}
	if !slices.IsSorted(q) || out.P50 <= 0 {
		t.Errorf("latency p50, p90, p99, p99.9, max = %v ms, want positive and ordered", q)
	}
	if out.ConnectP50 <= 0 || out.ConnectP50 > out.ConnectP99 {
		t.Errorf("connect p50 %v ms, p99 %v ms, want positive and ordered", out.ConnectP50, out.ConnectP99)
	}
	if out.DeliveriesPerSecond <= 0 {
		t.Errorf("deliveries_per_second %v, want > 0", out.DeliveriesPerSecond)
	}
	if out.ServerRSS == nil || *out.ServerRSS <= 0 {
		t.Errorf("server_rss_bytes %v, want the server's RSS from /metrics", out.ServerRSS)
	}
	// Progress went to stderr, the summary alone to stdout.
	if !strings.Contains(stderr, "deliveries/s") {
		t.Errorf("stderr has no progress line:\n%s", stderr)
	}
}

// TestBenchTransports runs the same tiny load over each transport: every
// publication reaches every subscriber, and the cost is measured (the
// bytes on the wire hold at least every delivery's padding).
func TestBenchTransports(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	for _, transport := range []string{"websocket", "sse", "http_stream"} {
		stdout, stderr, code := runHerald(t, []string{"HERALD_API_KEY=" + testAPIKey}, "",
			"bench", "--transport", transport, "--conns", "4", "--rate", "40", "--payload", "100", "--duration", "500ms", "--json", base)
		if code != 0 {
			t.Fatalf("herald bench --transport %s: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", transport, code, stdout, stderr)
		}
		var out struct {
			benchOutput
			Params struct {
				Transport string `json:"transport"`
			} `json:"params"`
			WireReceived     int64    `json:"wire_bytes_received"`
			WirePerDelivery  float64  `json:"wire_bytes_received_per_delivery"`
			ServerCPUSeconds *float64 `json:"server_cpu_seconds"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("herald bench --transport %s printed %q: %v", transport, stdout, err)
		}
		if out.Params.Transport != transport {
			t.Errorf("%s: params.transport %q", transport, out.Params.Transport)
		}
		if out.Deliveries != 4*20 || out.Deliveries != out.ExpectedDeliveries || out.Errors != 0 {
			t.Errorf("%s: deliveries %d of %d expected, errors %v, want 80 of 80 and none", transport, out.Deliveries, out.ExpectedDeliveries, out.ErrorsByCode)
		}
		if out.WireReceived < out.Deliveries*100 || out.WirePerDelivery < 100 {
			t.Errorf("%s: %d bytes received on the wire (%.1f per delivery) for %d deliveries of 100 bytes of padding", transport, out.WireReceived, out.WirePerDelivery, out.Deliveries)
		}
		if out.ServerCPUSeconds == nil {
			t.Errorf("%s: no server_cpu_seconds, want the server's process_cpu_seconds_total", transport)
		}
	}
}

func TestBenchWrongAPIKey(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	stdout, stderr, code := runHerald(t, nil, "",
		"bench", "--conns", "2", "--rate", "20", "--duration", "1s", "--json", "--api-key", "wrong", base)
	if code != 1 {
		t.Fatalf("herald bench with a wrong key: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	out := decodeBenchOutput(t, stdout, stderr)
	n := out.ErrorsByCode["publish_http_401"]
	if n == 0 || out.Errors != n || len(out.ErrorsByCode) != 1 {
		t.Errorf("errors %d by code %v, want them all under publish_http_401", out.Errors, out.ErrorsByCode)
	}
	if out.Publications != 0 || out.Deliveries != 0 || out.ExpectedDeliveries != 0 {
		t.Errorf("publications %d, deliveries %d, expected %d, want none", out.Publications, out.Deliveries, out.ExpectedDeliveries)
	}
	if !strings.Contains(stderr, "FAILED") {
		t.Errorf("stderr does not say the run failed:\n%s", stderr)
	}
}

func TestBenchReport(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	report := filepath.Join(t.TempDir(), "bench.html")
	stdout, stderr, code := runHerald(t, nil, "",
		"bench", "--conns", "3", "--rate", "20", "--duration", "1s", "--api-key", testAPIKey, "--report", report, base)
	if code != 0 {
		t.Fatalf("herald bench --report: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<svg", "Delivery latency", "Publications per second", "Deliveries per second", "--conns", "PASSED"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report has no %q", want)
		}
	}
	// Self-contained: nothing for a browser to fetch.
	for _, bad := range []string{"<script", "<link", "src=", "url(", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report has %q: it must be self-contained", bad)
		}
	}
	if !strings.Contains(stdout, "delivery latency") {
		t.Errorf("stdout has no summary:\n%s", stdout)
	}
}

func TestBenchServerUnreachable(t *testing.T) {
	t.Parallel()
	_, stderr, code := runHerald(t, nil, "", "bench", "--api-key", "k", "--duration", "1s", "http://"+freeAddr(t))
	if code != 1 || !strings.Contains(stderr, "refused") {
		t.Errorf("herald bench without a server: exit %d, want 1 with the reason\nstderr:\n%s", code, stderr)
	}
}

func TestBenchUsage(t *testing.T) {
	t.Parallel()
	url := "http://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--api-key", "k"}, "need exactly one URL"},
		{[]string{"--api-key", "k", url, url}, "need exactly one URL"},
		{[]string{"--api-key", "k", "--bogus", url}, "unknown flag --bogus"},
		{[]string{"--api-key", "k", url, "--conns", "x"}, "invalid value"},
		{[]string{"--api-key", "k", "--conns", "0", url}, "--conns 0"},
		{[]string{"--api-key", "k", "--conns", "100001", url}, "more than 100000"},
		{[]string{"--api-key", "k", "--duration", "11m", url}, "longer than 10m"},
		{[]string{"--api-key", "k", "--conns", "2", "--channels", "3", url}, "--channels 3"},
		{[]string{"--api-key", "k", "--rate", "0", url}, "--rate 0"},
		{[]string{"--api-key", "k", "--payload", "-1", url}, "--payload -1"},
		{[]string{"--api-key", "k", "--ramp", "0", url}, "--ramp 0"},
		{[]string{"--api-key", "k", "127.0.0.1:8000"}, "no scheme"},
		{[]string{"--api-key", "k", "http://192.0.2.1:8000"}, "--allow-remote"},
		{[]string{"--api-key", "k", "--api", "http://192.0.2.1:8000", url}, "--allow-remote"},
		{[]string{"--api-key", "k", "--transport", "long_polling", url}, "--transport \"long_polling\""},
		{[]string{url}, "no API key"},
		{[]string{"--api-key", "k", "--source-addrs", "0", url}, "--source-addrs 0"},
		{[]string{"--api-key", "k", "--source-addrs", "127.0.0.5-127.0.0.2", url}, "the lower first"},
		{[]string{"--api-key", "k", "--source-addrs", "127.0.0.2,nope", url}, `"nope" is not an IP address`},
		{[]string{"--api-key", "k", "--conns", "60000", "--source-addrs", "127.0.0.2", url}, "at least 3 source addresses"},
	} {
		_, stderr, code := runHerald(t, nil, "", append([]string{"bench"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || !isUsageError(stderr, "bench") {
			t.Errorf("herald bench %s: exit %d, want 2 with %q and a one-line usage error\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.want, stderr)
		}
	}

	stdout, _, code := runHerald(t, nil, "", "bench", "--help")
	if code != 0 || !strings.Contains(stdout, "Example:") || !strings.Contains(stdout, "--allow-remote") {
		t.Errorf("herald bench --help: exit %d, want 0 and the usage with an example\nstdout:\n%s", code, stdout)
	}
}

func TestBenchHistQuantiles(t *testing.T) {
	var h benchHist
	r := rand.New(rand.NewPCG(1, 2))
	samples := make([]time.Duration, 100000)
	for i := range samples {
		// Log-uniform from 1µs to 10s, the span latencies cover.
		samples[i] = time.Duration(1e3 * math.Pow(10, r.Float64()*7))
		h.record(samples[i])
	}
	slices.Sort(samples)
	s := h.snapshot()
	if s.total != uint64(len(samples)) || s.max != samples[len(samples)-1] {
		t.Fatalf("total %d, max %s; want %d, %s", s.total, s.max, len(samples), samples[len(samples)-1])
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := samples[max(int(q*float64(len(samples)))-1, 0)]
		got := s.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/benchHistSub {
			t.Errorf("quantile %v = %s, want within 1/%d above %s", q, got, benchHistSub, exact)
		}
	}
}

func TestBenchHistBuckets(t *testing.T) {
	// Every value falls in the bucket whose bounds hold it, and buckets
	// tile the range without gaps.
	next := int64(0)
	for i := range benchHistBuckets {
		low, width := benchHistBounds(i)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, next)
		}
		for _, v := range []int64{low, low + width - 1} {
			if got := benchHistIndex(v); got != i {
				t.Fatalf("value %d in bucket %d, want %d", v, got, i)
			}
		}
		next = low + width
	}
}

func TestBenchSentAt(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int64
		ok   bool
	}{
		{`{"channel":"c","pub":{"data":{"t":1700000000123456789,"seq":3,"pad":"xx"}}}`, 1700000000123456789, true},
		{`{"channel":"c","pub":{"offset":6,"epoch":"e","data":{"t":5,"seq":3,"pad":""}}}`, 5, true},
		// Another order or spacing falls back to decoding.
		{`{"channel":"c","pub":{"data":{"seq":3, "t": 42}}}`, 42, true},
		{`{"channel":"c","pub":{"data":{"seq":3}}}`, 0, false},
		{`{"channel":"c","pub":{"data":"text"}}`, 0, false},
		{`{"channel":"c","pub":{"data":{"t":12x}}}`, 0, false},
	} {
		got, ok := benchSentAt([]byte(tc.line))
		if got != tc.want || ok != tc.ok {
			t.Errorf("benchSentAt(%s) = %d, %v; want %d, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzBenchSentAt(f *testing.F) {
	f.Add(`{"channel":"c","pub":{"data":{"t":1700000000123456789,"seq":3,"pad":"xx"}}}`)
	f.Add(`{"pub":{"data":{"t":`)
	f.Add(`{"pub":{"data":{"t":99999999999999999999}}}`)
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := benchSentAt([]byte(line))
		if !ok && got != 0 {
			t.Fatalf("benchSentAt(%q) = %d with ok false", line, got)
		}
		// What bench publishes always decodes to its t.
		want := int64(len(line)) * 1e9
		pub := fmt.Sprintf(`{"channel":"c","pub":{"data":{"t":%d,"seq":1,"pad":%q}}}`, want, line)
		if got, ok := benchSentAt([]byte(pub)); !ok || got != want {
			t.Fatalf("benchSentAt(%s) = %d, %v; want %d", pub, got, ok, want)
		}
	})
}
