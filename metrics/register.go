package metrics

import "github.com/prometheus/client_golang/prometheus"

// Register adds a collector a part owns itself (one only some servers run)
// to the registry Handler serves.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }
