package redis_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/brokertest"
	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/redis"
)

// startNode starts a broker on opts delivering to h, as one node, closed
// when the test (or benchmark) ends.
func startNode(t testing.TB, opts redis.Options, h herald.BrokerHandler) *redis.Broker {
	t.Helper()
	b, err := redis.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Publishers on two nodes at once get gap-free offsets, and both nodes
// receive every publication in the one order the offsets give.
func TestConcurrentPublishersOnTwoNodes(t *testing.T) {
	s := redistest.Start(t)
	testConcurrentPublishers(t, redis.Options{Addresses: []string{s.Addr}})
}

func testConcurrentPublishers(t *testing.T, opts redis.Options) {
	var ra, rb brokertest.Recorder
	a, b := startNode(t, opts, &ra), startNode(t, opts, &rb)
	ctx := context.Background()
	const ch = "race"
	for _, n := range []*redis.Broker{a, b} {
		if err := n.Subscribe(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	const publishers, each = 4, 250
	keep := herald.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour}
	var mu sync.Mutex
	var offsets []uint64
	var wg sync.WaitGroup
	for i := range 2 * publishers {
		node := []*redis.Broker{a, b}[i%2]
		wg.Go(func() {
			for j := range each {
				pos, err := node.Publish(ctx, ch, fmt.Appendf(nil, `"%d-%d"`, i, j), keep)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				offsets = append(offsets, pos.Offset)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const total = 2 * publishers * each
	slices.Sort(offsets)
	for i, o := range offsets {
		if o != uint64(i+1) {
			t.Fatalf("offsets returned are not 1..%d: position %d holds %d", total, i, o)
		}
	}
	pa, pb := ra.WaitPublications(t, ch, total), rb.WaitPublications(t, ch, total)
	for i := range total {
		if pa[i].Offset != uint64(i+1) || pb[i].Offset != uint64(i+1) || string(pa[i].Data) != string(pb[i].Data) {
			t.Fatalf("delivery %d: node a got offset %d %s, node b offset %d %s; want offset %d, the same on both",
				i, pa[i].Offset, pa[i].Data, pb[i].Offset, pb[i].Data, i+1)
		}
	}
	t.Logf("published %d from 2 nodes; each node delivered %d in one order", total, total)
}

// lossRecorder is a recorder that also counts stream losses, as the hub
// makes subscribers recover on them.
type lossRecorder struct {
	brokertest.Recorder
	mu     sync.Mutex
	losses map[string]int
}

func (r *lossRecorder) HandleStreamLoss(channel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.losses == nil {
		r.losses = map[string]int{}
	}
	r.losses[channel]++
}

func (r *lossRecorder) lossCount(channel string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.losses[channel]
}

// startPubSub starts two nodes: one subscribed to ch, recording, and one
// publishing to it without pause.
func startPubSub(t *testing.T, opts redis.Options, ch string) (*redis.Broker, *lossRecorder, *redistest.Publisher) {
	t.Helper()
	rsub := &lossRecorder{}
	pubNode, subNode := startNode(t, opts, &brokertest.Recorder{}), startNode(t, opts, rsub)
	if err := subNode.Subscribe(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	keep := herald.PublishOptions{HistorySize: 100000, HistoryTTL: time.Hour}
	return subNode, rsub, redistest.StartPublisher(t, func(data []byte) (herald.StreamPosition, error) {
		return pubNode.Publish(context.Background(), ch, data, keep)
	})
}

// Under load, the subscribing node's pub/sub connection is killed: it
// reconnects, reads what it missed from history and delivers every
// acknowledged publication once, in order, with no loss reported.
func TestPubSubReconnectCatchesUp(t *testing.T) {
	s := redistest.Start(t)
	opts := redis.Options{Addresses: []string{s.Addr}, ReconnectDelay: 50 * time.Millisecond}
	const ch = "catchup"
	subNode, rsub, p := startPubSub(t, opts, ch)
	for range 3 {
		p.WaitAcked(t, 200)
		s.Do("CLIENT", "KILL", "TYPE", "pubsub")
		p.WaitAcked(t, 200)
	}
	acked, fails := p.Finish()
	got := rsub.WaitPublications(t, ch, len(acked))
	if fails != 0 {
		t.Fatalf("%d publishes failed although only pub/sub connections were killed", fails)
	}
	for i, a := range acked {
		if got[i].StreamPosition != a.StreamPosition || string(got[i].Data) != string(a.Data) {
			t.Fatalf("delivery %d is %+v %s, want %+v %s", i, got[i].StreamPosition, got[i].Data, a.StreamPosition, a.Data)
		}
	}
	st := subNode.Stats()
	t.Logf("published %d, delivered %d, caught up from history %d, losses %d", len(acked), len(got), st.CaughtUp, rsub.lossCount(ch))
	if rsub.lossCount(ch) != 0 || st.Lost != 0 {
		t.Fatalf("%d losses reported, want none: history held everything", rsub.lossCount(ch))
	}
}

// Redis itself is killed under load and started again, empty: publishes
// fail meanwhile (the API answers 503), and on the subscribing node every
// acknowledged publication is either delivered, in order, or covered by a
// loss report (which makes the hub's subscribers recover, and learn
// recovered: false). Nothing acknowledged is dropped silently.
func TestRedisRestartUnderLoad(t *testing.T) {
	s := redistest.Start(t)
	opts := redis.Options{Addresses: []string{s.Addr}, ReconnectDelay: 50 * time.Millisecond, Timeout: time.Second}
	const ch = "restart"
	subNode, rsub, p := startPubSub(t, opts, ch)
	p.WaitAcked(t, 300)
	s.Stop()
	s.Start()
	// Publishing goes on until the subscribing node is back and has
	// reported the loss, and for a while after: what it publishes then
	// must arrive. (What came before the node was back is the loss.)
	deadline := time.Now().Add(30 * time.Second)
	for rsub.lossCount(ch) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the history was lost with Redis and no loss was reported within 30s: subscribers would not know to refetch")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.WaitAcked(t, 300)
	acked, fails := p.Finish()

	// The epoch changed with the restart; wait for the last acknowledged
	// publication, which is in the new epoch.
	last := acked[len(acked)-1]
	var got []herald.Publication
	deadline = time.Now().Add(30 * time.Second)
	for {
		got = rsub.Publications(ch)
		if n := len(got); n > 0 && got[n-1].StreamPosition == last.StreamPosition {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last acknowledged publication %+v was not delivered within 30s (%d delivered)", last.StreamPosition, len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
	delivered := map[herald.StreamPosition]bool{}
	for i, g := range got {
		if delivered[g.StreamPosition] {
			t.Fatalf("publication %+v delivered twice", g.StreamPosition)
		}
		delivered[g.StreamPosition] = true
		if i > 0 && g.Epoch == got[i-1].Epoch && g.Offset != got[i-1].Offset+1 {
			t.Fatalf("delivery %d: offset %d after %d in one epoch", i, g.Offset, got[i-1].Offset)
		}
	}
	missing := 0
	for _, a := range acked {
		if !delivered[a.StreamPosition] {
			missing++
		}
	}
	losses := rsub.lossCount(ch)
	t.Logf("published %d (%d failed while Redis was down), delivered %d, caught up from history %d, missing %d, losses reported %d",
		len(acked), fails, len(got), subNode.Stats().CaughtUp, missing, losses)
	if fails == 0 {
		t.Fatal("no publish failed although Redis was down")
	}
}

// A quiet channel's history expires while a node is subscribed; the next
// publication starts a new epoch at offset 1 and is delivered like any
// other, without making subscribers recover.
func TestHistoryExpiryIsNotALoss(t *testing.T) {
	s := redistest.Start(t)
	opts := redis.Options{Addresses: []string{s.Addr}}
	var rsub lossRecorder
	node := startNode(t, opts, &rsub)
	ctx := context.Background()
	const ch = "quiet"
	if err := node.Subscribe(ctx, ch); err != nil {
		t.Fatal(err)
	}
	short := herald.PublishOptions{HistorySize: 10, HistoryTTL: 200 * time.Millisecond}
	first, err := node.Publish(ctx, ch, []byte("1"), short)
	if err != nil {
		t.Fatal(err)
	}
	rsub.WaitPublications(t, ch, 1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := node.History(ctx, ch, herald.HistoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Epoch == "" {
			break // expired
		}
		if time.Now().After(deadline) {
			t.Fatalf("the history did not expire within 30s: %+v", res.StreamPosition)
		}
		time.Sleep(20 * time.Millisecond)
	}
	next, err := node.Publish(ctx, ch, []byte("2"), short)
	if err != nil {
		t.Fatal(err)
	}
	if next.Offset != 1 || next.Epoch == first.Epoch {
		t.Fatalf("after expiry published at %+v, want offset 1 in a new epoch (was %q)", next, first.Epoch)
	}
	if got := rsub.WaitPublications(t, ch, 2); got[1].StreamPosition != next {
		t.Fatalf("delivered %+v, want %+v", got[1].StreamPosition, next)
	}
	if n := rsub.lossCount(ch); n != 0 {
		t.Fatalf("%d losses reported for a history that expired", n)
	}
}
