package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"
)

// stormSample is the state at one moment of the run.
type stormSample struct {
	T          float64 `json:"t"` // seconds since the start
	Connected  int64   `json:"connected"`
	Subscribed int64   `json:"subscribed"`
	Refused    int64   `json:"refused"`
	RSS        int64   `json:"server_rss_bytes,omitempty"` // 0: /metrics did not answer
	CPU        float64 `json:"server_cpu_seconds,omitempty"`
}

// stormRestart is what one restart of the server cost the clients.
type stormRestart struct {
	LostAt        float64 `json:"lost_at_seconds"` // the first client lost, since the start
	Lowest        int64   `json:"lowest_subscribed"`
	BackSeconds   float64 `json:"back_seconds"` // from the first client lost until all are subscribed again; -1: not within --timeout
	Refused       int64   `json:"refused"`      // upgrades refused with 503 meanwhile
	PeakRSS       int64   `json:"server_peak_rss_bytes"`
	PeakCPUCores  float64 `json:"server_peak_cpu_cores"` // the most CPU seconds per second over a second or more
	ServerCPUUsed float64 `json:"server_cpu_seconds"`    // the server process's CPU seconds when all were back
}

// stormResult is the run's summary.
type stormResult struct {
	Conns          int            `json:"conns"`
	ConnectSeconds float64        `json:"connect_seconds"` // until all were first subscribed; -1: not within --timeout
	Restarts       []stormRestart `json:"restarts"`
	GaveUp         int64          `json:"gave_up"`
	DialErrors     int64          `json:"dial_errors"`
	Failure        string         `json:"failure,omitempty"`
	Samples        []stormSample  `json:"-"`
}

// runStorm opens the clients, waits for the restarts and measures them.
func runStorm(ctx context.Context, cfg stormConfig, stderr io.Writer) *stormResult {
	var id [3]byte
	_, _ = rand.Read(id[:])
	res := &stormResult{Conns: cfg.conns}
	fleet := &stormFleet{}
	start := time.Now()
	smp := startStormSampler(ctx, cfg, fleet, start)
	defer func() {
		// The samples end before the clients close, so that the chart
		// shows the storm, not the bench's own end.
		res.Samples = smp.stop()
		fleet.closeAll()
		res.GaveUp = fleet.gaveUp.Load()
		res.DialErrors = fleet.dialErrors.Load()
		if res.Failure == "" && res.GaveUp > 0 {
			res.Failure = fmt.Sprintf("%d clients gave up", res.GaveUp)
		}
	}()

	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.ramp))
	for i := range cfg.conns {
		fleet.start(cfg, fmt.Sprintf("storm-%s-%d", hex.EncodeToString(id[:]), i%cfg.channels))
		select {
		case <-ctx.Done():
			res.Failure = "interrupted"
			return res
		case <-tick.C:
		}
	}
	tick.Stop()
	n := int64(cfg.conns)
	all := func() bool { return fleet.subscribed.Load() == n && fleet.connected.Load() == n }
	if !waitUntil(ctx, cfg.timeout, all) {
		res.ConnectSeconds = -1
		res.Failure = fmt.Sprintf("only %d of %d clients subscribed within %s", fleet.subscribed.Load(), n, cfg.timeout)
		return res
	}
	res.ConnectSeconds = time.Since(start).Seconds()
	fmt.Fprintf(stderr, "herald bench storm: all %d subscribed after %.1fs\n", n, res.ConnectSeconds)

	for r := range cfg.restarts {
		fmt.Fprintf(stderr, "herald bench storm: waiting for restart %d of %d\n", r+1, cfg.restarts)
		if !waitUntil(ctx, cfg.wait, func() bool { return fleet.subscribed.Load() < n }) {
			res.Failure = fmt.Sprintf("restart %d did not begin within --wait %s", r+1, cfg.wait)
			return res
		}
		lost := time.Now()
		refused := fleet.refused.Load()
		rs := stormRestart{LostAt: lost.Sub(start).Seconds(), Lowest: n}
		back := waitUntil(ctx, cfg.timeout, func() bool {
			rs.Lowest = min(rs.Lowest, fleet.subscribed.Load())
			return all()
		})
		rs.BackSeconds = time.Since(lost).Seconds()
		rs.Refused = fleet.refused.Load() - refused
		smp.server(&rs, lost.Sub(start).Seconds())
		if !back {
			rs.BackSeconds = -1
			res.Restarts = append(res.Restarts, rs)
			res.Failure = fmt.Sprintf("restart %d: only %d of %d clients back and subscribed within %s", r+1, fleet.subscribed.Load(), n, cfg.timeout)
			return res
		}
		res.Restarts = append(res.Restarts, rs)
		fmt.Fprintf(stderr, "herald bench storm: restart %d: all %d back and subscribed %.2fs after the first was lost (lowest %d, %d upgrades refused with 503)\n",
			r+1, n, rs.BackSeconds, rs.Lowest, rs.Refused)
	}
	// A little of the calm after the storm, for the chart.
	select {
	case <-ctx.Done():
	case <-time.After(min(2*time.Second, 20*cfg.sample)):
	}
	return res
}

func (r *stormResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "clients            %d\n", r.Conns)
	fmt.Fprintf(w, "all subscribed in  %.2fs\n", r.ConnectSeconds)
	for i, rs := range r.Restarts {
		fmt.Fprintf(w, "restart %d          back in %.2fs, lowest %d subscribed, %d refused with 503, server peak RSS %s, peak CPU %.2f cores, %.2f CPU s\n",
			i+1, rs.BackSeconds, rs.Lowest, rs.Refused, benchBytesText(&rs.PeakRSS), rs.PeakCPUCores, rs.ServerCPUUsed)
	}
	fmt.Fprintf(w, "gave up            %d\n", r.GaveUp)
	fmt.Fprintf(w, "dial errors        %d\n", r.DialErrors)
}

// stormSampler samples the counts every interval and the server's
// metrics as often as they answer, on goroutines of its own.
type stormSampler struct {
	mu      sync.Mutex
	samples []stormSample
	rss     int64
	cpu     float64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func startStormSampler(ctx context.Context, cfg stormConfig, f *stormFleet, start time.Time) *stormSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &stormSampler{cancel: cancel}
	s.wg.Go(func() {
		t := time.NewTicker(cfg.sample)
		defer t.Stop()
		for {
			s.mu.Lock()
			s.samples = append(s.samples, stormSample{
				T: time.Since(start).Seconds(), Connected: f.connected.Load(), Subscribed: f.subscribed.Load(),
				Refused: f.refused.Load(), RSS: s.rss, CPU: s.cpu,
			})
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	s.wg.Go(func() {
		for ctx.Err() == nil {
			begin := time.Now()
			rss, cpu, ok := stormServerMetrics(ctx, cfg.metricsURL, max(2*time.Second, cfg.sample))
			s.mu.Lock()
			if ok {
				s.rss, s.cpu = rss, cpu
			} else {
				s.rss, s.cpu = 0, 0
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(cfg.sample - time.Since(begin)):
			}
		}
	})
	return s
}

// server fills in the server's peak memory and CPU from the samples since
// from (seconds since the start).
func (s *stormSampler) server(rs *stormRestart, from float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// CPU per second over spans of a second or more: the metrics are
	// fetched apart from the samples, and a short span exaggerates.
	var prev, ref *stormSample
	for i := range s.samples {
		p := &s.samples[i]
		if p.T < from || p.RSS == 0 {
			continue
		}
		rs.PeakRSS = max(rs.PeakRSS, p.RSS)
		switch {
		case ref == nil || p.CPU < ref.CPU: // the first, or a new process
			ref = p
		case p.T-ref.T >= 1:
			rs.PeakCPUCores = max(rs.PeakCPUCores, (p.CPU-ref.CPU)/(p.T-ref.T))
			ref = p
		}
		prev = p
	}
	// A restarted server is a new process: its CPU seconds count from its
	// start, which is part of taking the clients back.
	if prev != nil {
		rs.ServerCPUUsed = prev.CPU
	}
}

func (s *stormSampler) stop() []stormSample {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// stormServerMetrics reads the server's resident memory and CPU seconds
// from its /metrics; ok is false when it does not answer in time.
func stormServerMetrics(ctx context.Context, metricsURL string, timeout time.Duration) (rss int64, cpu float64, ok bool) {
	m := benchServerMetrics(ctx, metricsURL, timeout, "process_resident_memory_bytes", "process_cpu_seconds_total")
	r, ok1 := m["process_resident_memory_bytes"]
	c, ok2 := m["process_cpu_seconds_total"]
	return int64(r), c, ok1 && ok2
}
