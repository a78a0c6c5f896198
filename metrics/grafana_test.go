package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGrafanaDashboard: the dashboard in deploy/grafana is valid JSON and
// every metric it queries is one this package registers, so renaming a
// metric cannot leave a panel silently empty.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/herald.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("deploy/grafana/herald.json: %v", err)
	}
	m := New()
	// Vectors appear in Gather only once they have a series.
	m.Disconnect(4001, "slow", "websocket")
	m.Recoveries.WithLabelValues("true").Inc()
	m.HookCalls.WithLabelValues("connect", "ok").Inc()
	m.HookLatency.WithLabelValues("connect").Observe(0.01)
	m.MessagesIn.WithLabelValues("websocket").Inc()
	m.MessagesOut.WithLabelValues("websocket").Inc()
	m.Handshakes.WithLabelValues("origin").Inc()
	m.Opened.WithLabelValues("sse").Inc()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
	}
	name := regexp.MustCompile(`herald_[a-z_]+`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, metric := range name.FindAllString(tg.Expr, -1) {
				n++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(metric, "_bucket"), "_sum"), "_count")
				if !known[base] {
					t.Errorf("panel %q queries %s, which the server does not export", p.Title, metric)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the dashboard queries no herald metric")
	}
}
