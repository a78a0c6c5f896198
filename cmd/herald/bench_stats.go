package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// benchStats is what a run counts, shared by every goroutine of the run.
type benchStats struct {
	opened       atomic.Int64 // connections that connected and subscribed
	open         atomic.Int64 // of those, still open
	publications atomic.Int64 // publications the server accepted
	expected     atomic.Int64 // deliveries those publications owe
	deliveries   atomic.Int64
	lastDelivery atomic.Int64 // unix nanos of the latest delivery

	latency   benchHist // publisher's t to subscriber's receipt
	connect   benchHist // dial to connect reply
	subscribe benchHist // subscribe command to its reply
	publish   benchHist // POST /api/publish round trip

	errMu  sync.Mutex
	errs   map[string]*benchError
	nerrs  atomic.Int64
	series []benchSecond // written only by the benchSampler
}

// benchError counts one kind of failure, with the first message seen so
// that the summary can say what the code means.
type benchError struct {
	Count   int64  `json:"count"`
	Example string `json:"example"`
}

func newBenchStats() *benchStats {
	return &benchStats{errs: map[string]*benchError{}}
}

// fail counts an error under key, a stable name such as publish_http_401
// or disconnect_4001.
func (s *benchStats) fail(key, example string) { s.failN(key, example, 1) }

// failN counts n errors under key.
func (s *benchStats) failN(key, example string, n int64) {
	s.nerrs.Add(n)
	s.errMu.Lock()
	defer s.errMu.Unlock()
	e := s.errs[key]
	if e == nil {
		e = &benchError{Example: example}
		s.errs[key] = e
	}
	e.Count += n
}

func (s *benchStats) errors() map[string]benchError {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	out := make(map[string]benchError, len(s.errs))
	for k, e := range s.errs {
		out[k] = *e
	}
	return out
}

// benchSecond is one point of the throughput-over-time chart.
type benchSecond struct {
	T            float64 `json:"t"` // seconds since the run started
	Open         int64   `json:"connections"`
	Publications float64 `json:"publications_per_second"`
	Deliveries   float64 `json:"deliveries_per_second"`
	Errors       int64   `json:"errors"`
}

// benchSampler records a benchSecond and prints a progress line once a second
// until stop is called.
type benchSampler struct {
	stats *benchStats
	w     io.Writer
	tty   bool // overwrite one line with \r instead of printing many
	conns int
	start time.Time
	phase atomic.Pointer[string]

	prevT            time.Time
	prevPub, prevDel int64

	stopc chan struct{}
	done  chan struct{}
}

func startBenchSampler(stats *benchStats, w io.Writer, conns int, start time.Time) *benchSampler {
	s := &benchSampler{
		stats: stats, w: w, tty: benchIsTerminal(w), conns: conns, start: start,
		prevT: start, stopc: make(chan struct{}), done: make(chan struct{}),
	}
	s.setPhase("connecting")
	go s.loop()
	return s
}

func (s *benchSampler) setPhase(p string) { s.phase.Store(&p) }

func (s *benchSampler) loop() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			s.sample(now)
		case <-s.stopc:
			// A last, partial second, unless it is too short for its
			// rates to mean anything.
			if time.Since(s.prevT) >= 500*time.Millisecond {
				s.sample(time.Now())
			}
			if s.tty {
				fmt.Fprintln(s.w)
			}
			return
		}
	}
}

func (s *benchSampler) sample(now time.Time) {
	dt := now.Sub(s.prevT).Seconds()
	if dt < 0.05 {
		return
	}
	pub, del := s.stats.publications.Load(), s.stats.deliveries.Load()
	p := benchSecond{
		T:            now.Sub(s.start).Seconds(),
		Open:         s.stats.open.Load(),
		Publications: float64(pub-s.prevPub) / dt,
		Deliveries:   float64(del-s.prevDel) / dt,
		Errors:       s.stats.nerrs.Load(),
	}
	s.prevT, s.prevPub, s.prevDel = now, pub, del
	s.stats.series = append(s.stats.series, p)

	line := fmt.Sprintf("herald bench: %4.0fs %-10s connections %d/%d  publications/s %.0f  deliveries/s %.0f  errors %d",
		p.T, *s.phase.Load(), p.Open, s.conns, p.Publications, p.Deliveries, p.Errors)
	if s.tty {
		fmt.Fprintf(s.w, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(s.w, line)
	}
}

// stop takes a last sample and waits for the benchSampler to exit; the series
// may be read after it returns.
func (s *benchSampler) stop() {
	close(s.stopc)
	<-s.done
}

func benchIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// benchSortedKeys returns m's keys in order, for output that reads the same
// from run to run.
func benchSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
