package hub

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/memory"
)

// lagBroker is the memory broker with its deliveries held back until the
// test lets them through, in order: a publication has its offset (and is in
// history) long before the hub fans it out, as with a broker that delivers
// from its own reader.
type lagBroker struct {
	*memory.Broker
	mu   sync.Mutex
	h    herald.BrokerHandler
	held []func()
}

func (b *lagBroker) Start(h herald.BrokerHandler) error {
	b.h = h
	return b.Broker.Start(lagHandler{b})
}

// release delivers what is held, in order.
func (b *lagBroker) release() {
	b.mu.Lock()
	held := b.held
	b.held = nil
	b.mu.Unlock()
	for _, f := range held {
		f()
	}
}

type lagHandler struct{ b *lagBroker }

func (l lagHandler) hold(f func()) {
	l.b.mu.Lock()
	l.b.held = append(l.b.held, f)
	l.b.mu.Unlock()
}

func (l lagHandler) HandlePublication(ch string, p herald.Publication) {
	l.hold(func() { l.b.h.HandlePublication(ch, p) })
}
func (l lagHandler) HandleJoin(ch string, c herald.ClientInfo) {
	l.hold(func() { l.b.h.HandleJoin(ch, c) })
}
func (l lagHandler) HandleLeave(ch string, c herald.ClientInfo) {
	l.hold(func() { l.b.h.HandleLeave(ch, c) })
}
func (l lagHandler) HandleControl(data []byte) { l.b.h.HandleControl(data) }

// decoded returns what a recording transport got, one JSON object each.
func decoded(t *testing.T, r *recordingTransport) []map[string]any {
	t.Helper()
	msgs, _ := r.written()
	out := make([]map[string]any, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal([]byte(m), &out[i]); err != nil {
			t.Fatalf("message %q: %v", m, err)
		}
	}
	return out
}

// pubOffsets lists the offsets of the pub pushes among msgs.
func pubOffsets(msgs []map[string]any) []float64 {
	var out []float64
	for _, m := range msgs {
		if p, ok := m["pub"].(map[string]any); ok {
			out = append(out, p["offset"].(float64))
		}
	}
	return out
}

// A publication whose fan-out comes after a subscriber was told a position
// at or past it is the client's already (in its recovery, or before the
// position it starts from): it is not sent again, and what comes after is.
func TestLateFanoutIsNotSentTwice(t *testing.T) {
	b := &lagBroker{Broker: memory.New()}
	h := New(Config{Namespaces: herald.Namespaces{Named: map[string]herald.NamespaceOptions{
		"h": {HistorySize: 10, HistoryTTL: time.Minute},
	}}}, b)
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx := context.Background()
	publish := func(data string) {
		t.Helper()
		if _, err := h.Publish(ctx, "h:c", []byte(data), PublishRequest{Source: "api"}); err != nil {
			t.Fatal(err)
		}
	}
	connect := func(subscribe string) *recordingTransport {
		r := &recordingTransport{}
		s, err := h.Accept(r, herald.ConnInfo{})
		if err != nil {
			t.Fatal(err)
		}
		s.HandleFrame([]byte(`{"id":1,"connect":{}}`))
		s.HandleFrame([]byte(subscribe))
		eventually(t, "the subscribe reply", func() bool { m, _ := r.written(); return len(m) == 2 })
		return r
	}

	publish(`1`)
	publish(`2`) // offsets 1 and 2, in history, not fanned out yet
	recovering := connect(`{"id":2,"subscribe":{"channel":"h:c","recover":true}}`)
	plain := connect(`{"id":2,"subscribe":{"channel":"h:c"}}`)
	if got := offsets(decoded(t, recovering)[1]["subscribe"]); len(got) != 2 {
		t.Fatalf("recovery reply %v, want publications 1 and 2", decoded(t, recovering)[1])
	}
	b.release() // 1 and 2 reach both subscribers now
	publish(`3`)
	publish(`4`)
	b.release()
	for name, r := range map[string]*recordingTransport{"recovering": recovering, "plain": plain} {
		eventually(t, name+" subscriber's publication 4", func() bool { got := pubOffsets(decoded(t, r)); return len(got) > 0 && got[len(got)-1] == 4 })
		if got := pubOffsets(decoded(t, r)); len(got) != 2 || got[0] != 3 || got[1] != 4 {
			t.Fatalf("%s subscriber got pushes of offsets %v, want 3 and 4", name, got)
		}
	}
	// Both are past their position: their recovery state is gone.
	sh := h.reg.subShard("h:c")
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for s, sub := range sh.channels["h:c"] {
		if sub != nil {
			t.Errorf("session %s still has its recovery state", s.id)
		}
	}
}

// offsets lists the offsets of a subscribe reply's publications.
func offsets(reply any) []float64 {
	r, _ := reply.(map[string]any)
	pubs, _ := r["publications"].([]any)
	var out []float64
	for _, p := range pubs {
		out = append(out, p.(map[string]any)["offset"].(float64))
	}
	return out
}

// The position filter compares offsets of one history only: once the
// history starts over (another epoch), low offsets are new publications.
func TestFilterLetsANewEpochThrough(t *testing.T) {
	h := newTestHub(t, Config{})
	r := &recordingTransport{}
	sess, _ := h.Accept(r, herald.ConnInfo{})
	s := sess.(*Session)
	sub := newRecovering()
	sub.finish(s, nil, 5, "old") // the reply brought the client to offset 5
	for _, p := range []struct {
		offset uint64
		epoch  string
		msg    string
		live   bool
	}{
		{4, "old", "covered", false},
		{0, "", "ephemeral", false},
		{1, "new", "new 1", true},
		{2, "new", "new 2", true},
	} {
		if live := sub.deliver(s, p.offset, p.epoch, []byte(p.msg)); live != p.live {
			t.Fatalf("%s: deliver reported live %v, want %v", p.msg, live, p.live)
		}
	}
	eventually(t, "the writes", func() bool { m, _ := r.written(); return len(m) == 3 })
	if m, _ := r.written(); m[0] != "ephemeral" || m[1] != "new 1" || m[2] != "new 2" {
		t.Fatalf("wrote %v, want the ephemeral one and the new epoch's", m)
	}
	s.Disconnect(herald.DisconnectForceReconnect)
}

// Close fans out and writes everything published before it: nothing the
// broker accepted is lost on the way to a connection that is still open.
func TestCloseDrainsFanoutAndWriters(t *testing.T) {
	h := New(Config{}, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	r := &recordingTransport{}
	s, _ := h.Accept(r, herald.ConnInfo{})
	s.HandleFrame([]byte(`{"id":1,"connect":{}}`))
	s.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"c"}}`))
	const n = 500
	for i := range n {
		if _, err := h.Publish(context.Background(), "c", []byte(strconv.Itoa(i)), PublishRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	msgs := decoded(t, r)
	if len(msgs) != 2+n {
		t.Fatalf("%d messages written by Close, want the 2 replies and %d publications", len(msgs), n)
	}
	for i, m := range msgs[2:] {
		if got := m["pub"].(map[string]any)["data"]; got != float64(i) {
			t.Fatalf("publication %d is %v: out of order", i, got)
		}
	}
	s.HandleClose(nil)
}

// A hub whose broker fails to start stops what it started, and Close
// after that is safe.
func TestStartFailureLeavesNothingRunning(t *testing.T) {
	b := memory.New()
	if err := b.Start(nopHandler{}); err != nil {
		t.Fatal(err)
	}
	h := New(Config{}, b)
	if err := h.Start(); err == nil {
		t.Fatal("Start with a broker already started succeeded")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// A burst of deliveries larger than a sequence holds (the broker hands
// them over faster than they are fanned out, and waits for room) arrives
// complete and in order.
func TestBurstPastMaxPendingArrivesInOrder(t *testing.T) {
	b := &lagBroker{Broker: memory.New()}
	h := New(Config{Namespaces: herald.Namespaces{Named: map[string]herald.NamespaceOptions{
		"h": {HistorySize: 10, HistoryTTL: time.Minute},
	}}, QueueSize: 64 << 20}, b)
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	r := &recordingTransport{}
	s, _ := h.Accept(r, herald.ConnInfo{})
	s.HandleFrame([]byte(`{"id":1,"connect":{}}`))
	s.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"h:c"}}`))
	n := 3 * maxPending
	for i := range n {
		if _, err := h.Publish(context.Background(), "h:c", []byte(strconv.Itoa(i)), PublishRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	b.release()
	eventually(t, "every publication", func() bool { m, _ := r.written(); return len(m) == 2+n })
	for i, off := range pubOffsets(decoded(t, r)) {
		if off != float64(i+1) {
			t.Fatalf("publication %d has offset %v: out of order", i, off)
		}
	}
}

// nopHandler takes what a broker delivers and drops it.
type nopHandler struct{}

func (nopHandler) HandlePublication(string, herald.Publication) {}
func (nopHandler) HandleJoin(string, herald.ClientInfo)         {}
func (nopHandler) HandleLeave(string, herald.ClientInfo)        {}
func (nopHandler) HandleControl([]byte)                         {}

// In a channel without history, a publication still in flight in the
// fan-out when a subscription registers (its publish answered already) is
// not the subscription's: only what is published after the subscribe
// reaches it. The worker is held off the sequence as if busy with it.
func TestInFlightPublicationMissesLaterSubscriber(t *testing.T) {
	h := newTestHub(t, Config{})
	sq := &h.fan.seqs[h.reg.subIndex("c")]
	sq.mu.Lock()
	sq.running = true // a worker has it: what is added waits
	sq.mu.Unlock()
	early := &recordingTransport{}
	es, _ := h.Accept(early, herald.ConnInfo{})
	es.HandleFrame([]byte(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"c"}}`))
	eventually(t, "the early subscribe reply", func() bool { m, _ := early.written(); return len(m) == 2 })

	h.HandlePublication("c", herald.Publication{Data: []byte(`1`)})
	late := &recordingTransport{}
	ls, _ := h.Accept(late, herald.ConnInfo{})
	ls.HandleFrame([]byte(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"c"}}`))
	eventually(t, "the late subscribe reply", func() bool { m, _ := late.written(); return len(m) == 2 })
	h.fan.run.put(sq) // the worker comes back to the sequence
	h.HandlePublication("c", herald.Publication{Data: []byte(`2`)})

	eventually(t, "both publications at the early subscriber", func() bool { return len(decoded(t, early)) == 4 })
	eventually(t, "publication 2 at the late subscriber", func() bool { return len(decoded(t, late)) >= 3 })
	got := decoded(t, late)
	if len(got) != 3 || got[2]["pub"].(map[string]any)["data"] != float64(2) {
		t.Fatalf("late subscriber got %v, want its replies then publication 2 only", got)
	}
	sh := h.reg.subShard("c")
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if len(sh.joined) != 0 || sh.njoined.Load() != 0 {
		t.Fatalf("%d marks left once the fan-out passed them", len(sh.joined))
	}
}
