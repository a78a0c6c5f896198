package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
)

// A trace follows the connections of a user, one client id or the
// subscribers of a channel on every node, frame by frame. The asking node
// sends the trace's filter through the control channel and renews it while
// its caller listens (a lease, so that a node never traces forever for an
// asker that died); each node marks its matching sessions and sends their
// frames and timeline events back through the control channel, addressed
// to the asker. An untraced session pays one atomic load per frame.

const (
	traceLease = 30 * time.Second // how long a node traces without a renewal
	traceRenew = traceLease / 3
	traceQueue = 1024 // lines a node holds for one trace before dropping
)

// TraceFilter selects the connections a trace follows; exactly one field
// is set.
type TraceFilter struct {
	User    string `json:"user,omitempty"`
	Client  string `json:"client,omitempty"`
	Channel string `json:"channel,omitempty"`
}

func (f TraceFilter) validate() error {
	n := 0
	for _, v := range []string{f.User, f.Client, f.Channel} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return herald.Errorf(herald.ErrBadRequest, "trace exactly one of user, client and channel")
	}
	return nil
}

// TraceLine is one frame in or out of a traced connection, or one of its
// timeline events.
type TraceLine struct {
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	Client string    `json:"client,omitempty"`
	User   string    `json:"user,omitempty"`
	// Dir is "in" (from the client) or "out" (to it) for a frame.
	Dir   string `json:"dir,omitempty"`
	Frame string `json:"frame,omitempty"`
	Event *Event `json:"event,omitempty"`
	// Dropped counts the lines this node dropped just before this one
	// because the trace's queue was full.
	Dropped int64 `json:"dropped,omitempty"`
}

// traceSpec is a trace as it travels to the nodes.
type traceSpec struct {
	ID     string      `json:"id"`
	From   string      `json:"from"`
	Filter TraceFilter `json:"filter"`
}

// activeTrace is a trace this node is carrying out.
type activeTrace struct {
	spec    traceSpec
	until   atomic.Int64 // unix nanos: the lease
	lines   chan TraceLine
	dropped atomic.Int64
	stop    chan struct{}
	once    sync.Once
}

// traces holds this node's active traces and, for the traces it asked
// for, where their lines go.
type traces struct {
	mu     sync.Mutex
	active map[string]*activeTrace
	watch  map[string]chan<- TraceLine
	n      atomic.Int32 // len(active), read without the lock
}

// Trace streams the lines of every connection f matches, on every node,
// to lines until ctx ends. Lines are dropped, not waited for, when lines
// is full.
func (h *Hub) Trace(ctx context.Context, f TraceFilter, lines chan<- TraceLine) error {
	if err := f.validate(); err != nil {
		return err
	}
	spec := traceSpec{ID: newClientID(), From: h.id, Filter: f}
	h.tr.mu.Lock()
	h.tr.watch[spec.ID] = lines
	h.tr.mu.Unlock()
	defer func() {
		h.tr.mu.Lock()
		delete(h.tr.watch, spec.ID)
		h.tr.mu.Unlock()
	}()
	if err := h.publishTrace(ctx, "trace", spec); err != nil {
		return err
	}
	renew := time.NewTicker(traceRenew)
	defer renew.Stop()
	// A trace's request never goes idle: end it when the node starts
	// draining, or the HTTP server's shutdown would wait for it.
	drain := time.NewTicker(200 * time.Millisecond)
	defer drain.Stop()
	for {
		select {
		case <-ctx.Done():
		case <-drain.C:
			if !h.draining.Load() {
				continue
			}
		case <-renew.C:
			if err := h.publishTrace(ctx, "trace", spec); err != nil {
				h.log.Warn("trace not renewed", "trace", spec.ID, "err", err)
			}
			continue
		}
		stop, cancel := context.WithTimeout(context.Background(), h.cfg.SurveyTimeout)
		defer cancel()
		_ = h.publishTrace(stop, "trace_stop", spec)
		return nil
	}
}

func (h *Hub) publishTrace(ctx context.Context, op string, spec traceSpec) error {
	data, err := json.Marshal(control{Op: op, Trace: &spec})
	if err != nil {
		return err
	}
	if err := h.broker.PublishControl(ctx, data); err != nil {
		return h.brokerError("send a trace to", "all nodes", err)
	}
	return nil
}

// startTrace begins or renews a trace on this node.
func (h *Hub) startTrace(spec *traceSpec) {
	if spec == nil || spec.ID == "" || spec.Filter.validate() != nil {
		return
	}
	h.tr.mu.Lock()
	at := h.tr.active[spec.ID]
	if at != nil {
		at.until.Store(time.Now().Add(traceLease).UnixNano())
		h.tr.mu.Unlock()
		return
	}
	select {
	case <-h.stop:
		h.tr.mu.Unlock()
		return
	default:
	}
	at = &activeTrace{spec: *spec, lines: make(chan TraceLine, traceQueue), stop: make(chan struct{})}
	at.until.Store(time.Now().Add(traceLease).UnixNano())
	h.tr.active[spec.ID] = at
	h.tr.n.Store(int32(len(h.tr.active)))
	h.wg.Add(1)
	h.tr.mu.Unlock()
	go h.sendTrace(at)
	n := 0
	h.reg.eachConn(func(s *Session) {
		if h.retrace(s) {
			n++
		}
	})
	at.push(TraceLine{Time: time.Now(), Node: h.cfg.NodeName,
		Event: &Event{Kind: "trace_started", Code: uint32(n), Text: "tracing on node " + h.cfg.NodeName + " (" + h.id + ")"}})
}

// stopTrace ends a trace on this node.
func (h *Hub) stopTrace(id string) {
	h.tr.mu.Lock()
	at := h.tr.active[id]
	delete(h.tr.active, id)
	h.tr.n.Store(int32(len(h.tr.active)))
	h.tr.mu.Unlock()
	if at == nil {
		return
	}
	at.once.Do(func() { close(at.stop) })
	h.reg.eachConn(func(s *Session) { h.retrace(s) })
}

// sendTrace sends one trace's lines to the asking node until the trace
// stops, its lease runs out or the hub closes.
func (h *Hub) sendTrace(at *activeTrace) {
	defer h.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-at.stop:
			return
		case now := <-t.C:
			if now.UnixNano() > at.until.Load() {
				h.stopTrace(at.spec.ID)
				return
			}
		case line := <-at.lines:
			data, err := json.Marshal(control{Op: "trace_line", TraceID: at.spec.ID, To: at.spec.From, Line: &line})
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SurveyTimeout)
			if err := h.broker.PublishControl(ctx, data); err != nil {
				at.dropped.Add(1)
			}
			cancel()
		}
	}
}

// gatherTraceLine hands a line addressed to this node to its watcher.
func (h *Hub) gatherTraceLine(c *control) {
	if c.To != h.id || c.Line == nil {
		return
	}
	h.tr.mu.Lock()
	w := h.tr.watch[c.TraceID]
	h.tr.mu.Unlock()
	if w == nil {
		return
	}
	select {
	case w <- *c.Line:
	default: // the watcher fell behind
	}
}

func (at *activeTrace) push(line TraceLine) {
	line.Dropped = at.dropped.Swap(0)
	select {
	case at.lines <- line:
	default:
		at.dropped.Add(line.Dropped + 1)
	}
}

// retrace sets which of this node's traces follow s and reports whether
// any does. Called when traces start or stop and when s connects,
// subscribes or leaves a channel.
func (h *Hub) retrace(s *Session) bool {
	if h.tr.n.Load() == 0 && s.traced.Load() == nil {
		return false
	}
	s.mu.Lock()
	client, user, channels := s.id, s.user, slices.Clone(s.channels)
	attempt := s.attempt
	s.mu.Unlock()
	var set []*activeTrace
	h.tr.mu.Lock()
	for _, at := range h.tr.active {
		f := at.spec.Filter
		if (f.User != "" && f.User == user) || (f.Client != "" && f.Client == client) ||
			(f.Channel != "" && slices.Contains(channels, f.Channel)) {
			set = append(set, at)
		}
	}
	h.tr.mu.Unlock()
	if len(set) == 0 {
		s.traced.Store(nil)
		return false
	}
	if client == "" {
		client = attempt
	}
	s.traced.Store(&traceSet{at: set, client: client, user: user})
	return true
}

// traceSet is the traces following one session, with who it is: frames
// are traced from under the session's and the queue's locks, so a line
// takes nothing from the session but this.
type traceSet struct {
	at           []*activeTrace
	client, user string
}

// traceFrame sends a frame of s to the traces following it, redacted.
func (s *Session) traceFrame(set *traceSet, dir string, frame []byte) {
	line := s.traceLine(set)
	line.Dir, line.Frame = dir, redactFrame(frame, s.hub.redact)
	for _, at := range set.at {
		at.push(line)
	}
}

func (s *Session) traceEvent(set *traceSet, e Event) {
	line := s.traceLine(set)
	line.Event = &e
	for _, at := range set.at {
		at.push(line)
	}
}

func (s *Session) traceLine(set *traceSet) TraceLine {
	return TraceLine{Time: time.Now(), Node: s.hub.cfg.NodeName, Client: set.client, User: set.user}
}

// redactFrame renders a frame's messages with the values of the redacted
// keys (token always) replaced, at any depth: a connect's token, a
// subscribe's, a refresh's, and whatever fields the operator named in
// publications and connect data.
func redactFrame(frame []byte, keys map[string]bool) string {
	var out bytes.Buffer
	for i, msg := range bytes.Split(bytes.TrimSpace(frame), []byte("\n")) {
		if i > 0 {
			out.WriteByte('\n')
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			// Not JSON: it cannot be redacted, so it is not shown.
			out.WriteString(`"[not JSON: ` + strconv.Itoa(len(msg)) + ` bytes]"`)
			continue
		}
		b, _ := json.Marshal(redactValue(v, keys))
		out.Write(b)
	}
	return out.String()
}

func redactValue(v any, keys map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if keys[k] {
				x[k] = "[redacted]"
				continue
			}
			x[k] = redactValue(val, keys)
		}
	case []any:
		for i := range x {
			x[i] = redactValue(x[i], keys)
		}
	}
	return v
}
