package hub

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// handoffAfter is how long a write may block a pool writer before the
// writer is handed over to that connection and a fresh one takes its place.
// A slow TCP peer can keep a Write blocked up to the transport's write
// timeout (seconds); without the handoff a few such peers would hold every
// writer and stall the deliveries of all other connections. A blocked write
// is noticed on the second look of a watchdog that looks every
// handoffAfter, so other connections wait between one and two of it.
const handoffAfter = 10 * time.Millisecond

// writers is the hub's bounded set of goroutines that write connections'
// outbound queues: a connection whose queue goes from empty to non-empty is
// put on run, and the next free writer drains everything queued for it
// into one Transport.Write. No goroutine is started per delivery; the
// goroutines are the pool (Config.Writers) plus, for as long as their
// write blocks, the writers handed over to slow connections.
type writers struct {
	run      runq[*queue]
	wg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once

	mu     sync.Mutex // guards active
	active []*writer  // the pool's writers, not the handed-over ones

	handoffs atomic.Int64 // writers handed over to a blocked write, for tests and metrics

	// The watchdog sleeps while no write is in progress, so that an idle
	// server does not wake 100 times a second; a write that begins while
	// it sleeps wakes it.
	asleep atomic.Bool
	wake   chan struct{} // 1-buffered
}

// writer is one pool goroutine as the watchdog sees it.
type writer struct {
	// writes counts the writer's Write calls twice, before and after: odd
	// while a write is in progress. The watchdog compares it with what it
	// saw last time, so a write costs two atomic adds and no clock read.
	writes   atomic.Uint64
	seen     uint64 // the watchdog's last look at writes; guarded by writers.mu
	detached atomic.Bool
	n        uint32 // its writes, to sample the queue depth; owned by its goroutine
}

// queueDepthSample: one write in this many, per writer, is observed in
// the queue depth histogram (herald_queue_depth_bytes).
const queueDepthSample = 16

// defaultWriters is Config.Writers' default: a few per core, so that a
// handful of writes blocked until the watchdog's next look do not leave a
// core idle, and few enough that they do not crowd out the rest.
func defaultWriters() int { return 4 * runtime.GOMAXPROCS(0) }

func (p *writers) init() {
	p.run.init()
	p.stop = make(chan struct{})
	p.wake = make(chan struct{}, 1)
}

// begin and end bracket every Transport.Write of a pool writer: an add to
// the writer's own counter each (odd while the write is in progress), and
// a wake-up of the watchdog only when it sleeps.
func (p *writers) begin(w *writer) {
	w.writes.Add(1)
	if p.asleep.Load() {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *writers) end(w *writer) { w.writes.Add(1) }

// start runs n writers and the watchdog until shutdown.
func (p *writers) start(n int) {
	p.mu.Lock()
	for range n {
		p.spawn()
	}
	p.mu.Unlock()
	p.wg.Add(1)
	go p.watch()
}

// spawn starts a pool writer. The caller holds p.mu.
func (p *writers) spawn() {
	w := &writer{}
	p.active = append(p.active, w)
	p.wg.Add(1)
	go p.loop(w)
}

func (p *writers) loop(w *writer) {
	defer p.wg.Done()
	for !w.detached.Load() {
		q, ok := p.run.take()
		if !ok {
			return
		}
		q.write(w)
	}
}

// watch hands a writer whose write has not returned since the last look
// over to that connection: the writer leaves the pool when its write ends,
// and a new one replaces it now.
func (p *writers) watch() {
	defer p.wg.Done()
	t := time.NewTicker(handoffAfter)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		idle := true
		for i := 0; i < len(p.active); i++ {
			w := p.active[i]
			n := w.writes.Load()
			if n&1 == 0 || n != w.seen {
				w.seen = n
				idle = idle && n&1 == 0
				continue
			}
			w.detached.Store(true)
			p.handoffs.Add(1)
			last := len(p.active) - 1
			p.active[i] = p.active[last]
			p.active[last] = nil
			p.active = p.active[:last]
			p.spawn()
			i-- // look at the writer moved into place i
		}
		p.mu.Unlock()
		if idle && !p.sleep(t) {
			return
		}
	}
}

// writing reports whether a pool writer's write is in progress.
func (p *writers) writing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.active {
		if w.writes.Load()&1 == 1 {
			return true
		}
	}
	return false
}

// sleep waits, with the ticker stopped, until a write begins, and reports
// false if the pool stops meanwhile. A write that began before asleep was
// set is seen by the second look at the writers; one after it sends on
// wake.
func (p *writers) sleep(t *time.Ticker) bool {
	p.asleep.Store(true)
	defer p.asleep.Store(false)
	if p.writing() {
		return true
	}
	t.Stop()
	select {
	case <-p.stop:
		return false
	case <-p.wake:
	}
	t.Reset(handoffAfter)
	return true
}

// shutdown lets the writers write what is queued, stops them and the
// watchdog, and waits for all of them, handed-over ones included.
func (p *writers) shutdown() {
	p.run.stop()
	p.stopOnce.Do(func() { close(p.stop) })
	p.wg.Wait()
}
