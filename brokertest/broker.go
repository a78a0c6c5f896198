package brokertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

// RunBroker runs the broker conformance suite. newBroker returns a new
// broker, not started, for one subtest: the suite starts it with a Recorder
// and closes it. Anything else it holds (a connection, a server) is for
// newBroker to release with t.Cleanup. Channel names are unique per
// subtest, so brokers may share a backend.
func RunBroker(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	tests := []struct {
		name string
		run  func(t *testing.T, newBroker func(t *testing.T) herald.Broker)
	}{
		{"PublishBeforeStartAndAfterClose", testPublishBeforeStartAndAfterClose},
		{"PublishDelivers", testPublishDelivers},
		{"PublishWithoutHistory", testPublishWithoutHistory},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"NoHistory", testNoHistory},
		{"HistoryPaging", testHistoryPaging},
		{"HistoryTrimmedToSize", testHistoryTrimmedToSize},
		{"RemoveHistoryKeepsOffsets", testRemoveHistoryKeepsOffsets},
		{"HistoryCreatesStream", testHistoryCreatesStream},
		{"IdempotentPublish", testIdempotentPublish},
		{"JoinLeaveControl", testJoinLeaveControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newBroker) })
	}
}

// keep is the stream the suite's channels keep: big enough for every
// subtest but the one that trims, alive for longer than any run.
var keep = herald.PublishOptions{HistorySize: 1000, HistoryTTL: time.Hour}

// start starts a broker with a recorder and closes it when the test ends.
func start(t *testing.T, newBroker func(t *testing.T) herald.Broker) (herald.Broker, *Recorder) {
	t.Helper()
	b, r := newBroker(t), &Recorder{}
	if err := b.Start(r); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, r
}

// channel returns a unique channel name the broker is subscribed to.
func channel(t *testing.T, b herald.Broker, name string) string {
	t.Helper()
	ch := uniqueName(name)
	if err := b.Subscribe(context.Background(), ch); err != nil {
		t.Fatalf("Subscribe(%q): %v", ch, err)
	}
	return ch
}

// uniqueName returns a channel name that no other test, nor another run
// against the same backend, uses.
func uniqueName(name string) string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return "brokertest-" + name + "-" + hex.EncodeToString(rnd[:])
}

// publish publishes data and fails the test on error.
func publish(t *testing.T, b herald.Broker, ch, data string, opts herald.PublishOptions) herald.StreamPosition {
	t.Helper()
	pos, err := b.Publish(context.Background(), ch, []byte(data), opts)
	if err != nil {
		t.Fatalf("Publish(%q, %s): %v", ch, data, err)
	}
	return pos
}

// publishN publishes the JSON numbers 1..n with history and returns the
// epoch, checking that the offsets are 1..n.
func publishN(t *testing.T, b herald.Broker, ch string, n int, opts herald.PublishOptions) string {
	t.Helper()
	var epoch string
	for i := 1; i <= n; i++ {
		pos := publish(t, b, ch, fmt.Sprint(i), opts)
		if pos.Offset != uint64(i) || pos.Epoch == "" || (epoch != "" && pos.Epoch != epoch) {
			t.Fatalf("publication %d got position %+v (epoch so far %q), want offset %d in one non-empty epoch", i, pos, epoch, i)
		}
		epoch = pos.Epoch
	}
	return epoch
}

func readHistory(t *testing.T, b herald.Broker, ch string, opts herald.HistoryOptions) herald.HistoryResult {
	t.Helper()
	res, err := b.History(context.Background(), ch, opts)
	if err != nil {
		t.Fatalf("History(%q, %+v): %v", ch, opts, err)
	}
	return res
}

// checkPublications checks that pubs carry the offsets want, in that order,
// each in epoch with the data published by publishN.
func checkPublications(t *testing.T, pubs []herald.Publication, epoch string, want ...uint64) {
	t.Helper()
	got := make([]uint64, len(pubs))
	for i, p := range pubs {
		got[i] = p.Offset
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got offsets %v, want %v", got, want)
	}
	for _, p := range pubs {
		if p.Epoch != epoch || string(p.Data) != fmt.Sprint(p.Offset) {
			t.Fatalf("publication at offset %d has epoch %q and data %q, want %q and %q", p.Offset, p.Epoch, p.Data, epoch, fmt.Sprint(p.Offset))
		}
	}
}

func testPublishBeforeStartAndAfterClose(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b := newBroker(t)
	if _, err := b.Publish(context.Background(), "brokertest-unstarted", []byte("1"), keep); err == nil {
		t.Fatal("Publish before Start succeeded")
	}
	if err := b.Start(&Recorder{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := b.Publish(context.Background(), "brokertest-closed", []byte("1"), keep); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
}

// Every publication reaches the handler once, in order, with the position
// Publish returned and the publisher's Origin.
func testPublishDelivers(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, r := start(t, newBroker)
	ch := channel(t, b, "delivers")
	opts := keep
	opts.Origin = "client-1"
	epoch := publishN(t, b, ch, 10, opts)
	pubs := r.WaitPublications(t, ch, 10)
	checkPublications(t, pubs, epoch, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, p := range pubs {
		if p.Origin != "client-1" {
			t.Fatalf("publication %d delivered with origin %q, want %q", p.Offset, p.Origin, "client-1")
		}
	}
}

// A channel that keeps no history assigns no position, and still delivers.
func testPublishWithoutHistory(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, r := start(t, newBroker)
	ch := channel(t, b, "nohistory")
	for _, d := range []string{"1", "2"} {
		if pos := publish(t, b, ch, d, herald.PublishOptions{}); pos != (herald.StreamPosition{}) {
			t.Fatalf("Publish without history returned %+v, want the zero position", pos)
		}
	}
	pubs := r.WaitPublications(t, ch, 2)
	for i, p := range pubs {
		if p.StreamPosition != (herald.StreamPosition{}) || string(p.Data) != fmt.Sprint(i+1) {
			t.Fatalf("delivery %d is %+v (data %s), want data %d at the zero position", i, p.StreamPosition, p.Data, i+1)
		}
	}
	if res := readHistory(t, b, ch, herald.HistoryOptions{Limit: 10}); res.StreamPosition != (herald.StreamPosition{}) || len(res.Publications) != 0 {
		t.Fatalf("History of a channel without history: %+v", res)
	}
}

// Publishers racing on one channel get distinct consecutive offsets, and
// the handler sees them in offset order.
func testConcurrentPublishers(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	const publishers, each = 8, 50
	b, r := start(t, newBroker)
	ch := channel(t, b, "concurrent")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		offsets []uint64
	)
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				pos, err := b.Publish(context.Background(), ch, []byte("1"), keep)
				if err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
				mu.Lock()
				offsets = append(offsets, pos.Offset)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(offsets)
	for i, off := range offsets {
		if off != uint64(i+1) {
			t.Fatalf("Publish returned offsets %v..., want 1..%d without gaps or repeats", offsets[:i+1], publishers*each)
		}
	}
	pubs := r.WaitPublications(t, ch, publishers*each)
	if len(pubs) != publishers*each {
		t.Fatalf("%d deliveries, want %d", len(pubs), publishers*each)
	}
	for i, p := range pubs {
		if p.Offset != uint64(i+1) || p.Epoch != pubs[0].Epoch {
			t.Fatalf("delivery %d is at %+v, want offset %d in epoch %q: delivery order must be offset order", i, p.StreamPosition, i+1, pubs[0].Epoch)
		}
	}
}

// A channel never published to has the zero position and, without stream
// options, gets no stream.
func testNoHistory(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, _ := start(t, newBroker)
	ch := channel(t, b, "empty")
	for _, opts := range []herald.HistoryOptions{{}, {Limit: 10}, {Limit: 10, Reverse: true}} {
		res := readHistory(t, b, ch, opts)
		if res.StreamPosition != (herald.StreamPosition{}) || len(res.Publications) != 0 {
			t.Fatalf("History(%+v) of a channel never published to: %+v, want the zero result", opts, res)
		}
	}
}

func testHistoryPaging(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, _ := start(t, newBroker)
	ch := channel(t, b, "paging")
	epoch := publishN(t, b, ch, 10, keep)
	since := func(off uint64) *herald.StreamPosition { return &herald.StreamPosition{Offset: off, Epoch: epoch} }
	tests := []struct {
		name string
		opts herald.HistoryOptions
		want []uint64
	}{
		{"forward from the oldest", herald.HistoryOptions{Limit: 3}, []uint64{1, 2, 3}},
		{"forward, all", herald.HistoryOptions{Limit: 100}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"forward since the middle", herald.HistoryOptions{Since: since(4), Limit: 3}, []uint64{5, 6, 7}},
		{"forward since near the top", herald.HistoryOptions{Since: since(8), Limit: 10}, []uint64{9, 10}},
		{"forward since the top", herald.HistoryOptions{Since: since(10), Limit: 10}, nil},
		{"forward since beyond the top", herald.HistoryOptions{Since: since(15), Limit: 10}, nil},
		{"forward since zero", herald.HistoryOptions{Since: since(0), Limit: 2}, []uint64{1, 2}},
		{"reverse from the newest", herald.HistoryOptions{Reverse: true, Limit: 3}, []uint64{10, 9, 8}},
		{"reverse since the middle", herald.HistoryOptions{Reverse: true, Since: since(4), Limit: 10}, []uint64{3, 2, 1}},
		{"reverse since beyond the top", herald.HistoryOptions{Reverse: true, Since: since(11), Limit: 2}, []uint64{10, 9}},
		{"reverse since the oldest", herald.HistoryOptions{Reverse: true, Since: since(1), Limit: 10}, nil},
		{"limit 0", herald.HistoryOptions{Limit: 0}, nil},
		{"limit 0 reverse", herald.HistoryOptions{Reverse: true, Limit: 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := readHistory(t, b, ch, tt.opts)
			if want := (herald.StreamPosition{Offset: 10, Epoch: epoch}); res.StreamPosition != want {
				t.Fatalf("position %+v, want %+v", res.StreamPosition, want)
			}
			checkPublications(t, res.Publications, epoch, tt.want...)
		})
	}
}

// A history keeps only its last HistorySize publications; paging from
// before them starts at the oldest kept, which tells the caller what was
// lost.
func testHistoryTrimmedToSize(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, _ := start(t, newBroker)
	ch := channel(t, b, "trimmed")
	opts := herald.PublishOptions{HistorySize: 3, HistoryTTL: time.Hour}
	epoch := publishN(t, b, ch, 8, opts)
	one := &herald.StreamPosition{Offset: 1, Epoch: epoch}
	for _, tt := range []struct {
		opts herald.HistoryOptions
		want []uint64
	}{
		{herald.HistoryOptions{Limit: 10}, []uint64{6, 7, 8}},
		{herald.HistoryOptions{Limit: 10, Since: one}, []uint64{6, 7, 8}},
		{herald.HistoryOptions{Limit: 10, Reverse: true}, []uint64{8, 7, 6}},
		{herald.HistoryOptions{Limit: 10, Reverse: true, Since: &herald.StreamPosition{Offset: 7, Epoch: epoch}}, []uint64{6}},
	} {
		res := readHistory(t, b, ch, tt.opts)
		if res.Offset != 8 || res.Epoch != epoch {
			t.Fatalf("History(%+v) position %+v, want offset 8 in %q", tt.opts, res.StreamPosition, epoch)
		}
		checkPublications(t, res.Publications, epoch, tt.want...)
	}
}

func testRemoveHistoryKeepsOffsets(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, _ := start(t, newBroker)
	ch := channel(t, b, "remove")
	epoch := publishN(t, b, ch, 3, keep)
	if err := b.RemoveHistory(context.Background(), ch); err != nil {
		t.Fatalf("RemoveHistory: %v", err)
	}
	res := readHistory(t, b, ch, herald.HistoryOptions{Limit: 10})
	if res.StreamPosition != (herald.StreamPosition{Offset: 3, Epoch: epoch}) || len(res.Publications) != 0 {
		t.Fatalf("after RemoveHistory: %+v, want offset 3 in %q and no publications", res, epoch)
	}
	if pos := publish(t, b, ch, "4", keep); pos != (herald.StreamPosition{Offset: 4, Epoch: epoch}) {
		t.Fatalf("publication after RemoveHistory at %+v, want offset 4 in %q", pos, epoch)
	}
	checkPublications(t, readHistory(t, b, ch, herald.HistoryOptions{Limit: 10}).Publications, epoch, 4)
	if err := b.RemoveHistory(context.Background(), channel(t, b, "remove-none")); err != nil {
		t.Fatalf("RemoveHistory of a channel without history: %v", err)
	}
}

// A subscriber that reads the position of a channel nobody published to yet
// must find the first publication in the epoch it was told.
func testHistoryCreatesStream(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, r := start(t, newBroker)
	ch := channel(t, b, "created")
	res := readHistory(t, b, ch, herald.HistoryOptions{Limit: 10, Stream: keep})
	if res.Offset != 0 || res.Epoch == "" || len(res.Publications) != 0 {
		t.Fatalf("History with stream options: %+v, want offset 0 in a new epoch", res)
	}
	if again := readHistory(t, b, ch, herald.HistoryOptions{Stream: keep}); again.StreamPosition != res.StreamPosition {
		t.Fatalf("second History: %+v, want %+v", again.StreamPosition, res.StreamPosition)
	}
	if pos := publish(t, b, ch, "1", keep); pos != (herald.StreamPosition{Offset: 1, Epoch: res.Epoch}) {
		t.Fatalf("first publication at %+v, want offset 1 in the epoch History returned, %q", pos, res.Epoch)
	}
	checkPublications(t, r.WaitPublications(t, ch, 1), res.Epoch, 1)
}

// A retried publication returns its first result and is not delivered
// again; keys are per channel.
func testIdempotentPublish(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, r := start(t, newBroker)
	ch, other := channel(t, b, "idem"), channel(t, b, "idem-other")
	keyed := func(opts herald.PublishOptions, key string) herald.PublishOptions {
		opts.IdempotencyKey, opts.IdempotencyWindow = key, time.Hour
		return opts
	}
	first := publish(t, b, ch, "1", keyed(keep, "k"))
	if retry := publish(t, b, ch, "1", keyed(keep, "k")); retry != first {
		t.Fatalf("retry returned %+v, want the first result %+v", retry, first)
	}
	if pos := publish(t, b, ch, "2", keyed(keep, "k2")); pos.Offset != first.Offset+1 {
		t.Fatalf("another key published at %+v, want offset %d", pos, first.Offset+1)
	}
	if pos := publish(t, b, other, "1", keyed(keep, "k")); pos.Offset != 1 {
		t.Fatalf("the same key on another channel published at %+v, want offset 1", pos)
	}
	// Deliveries are in order: once the second publication arrived, a
	// repeated first one would have too.
	checkPublications(t, r.WaitPublications(t, ch, 2), first.Epoch, 1, 2)
	checkPublications(t, readHistory(t, b, ch, herald.HistoryOptions{Limit: 10}).Publications, first.Epoch, 1, 2)

	// Without history a retry is not delivered either.
	plain := channel(t, b, "idem-plain")
	publish(t, b, plain, "1", keyed(herald.PublishOptions{}, "k"))
	publish(t, b, plain, "1", keyed(herald.PublishOptions{}, "k"))
	publish(t, b, plain, "2", herald.PublishOptions{})
	pubs := r.WaitPublications(t, plain, 2)
	if len(pubs) != 2 || string(pubs[0].Data) != "1" || string(pubs[1].Data) != "2" {
		t.Fatalf("deliveries without history: %d, want the first publication once then the second", len(pubs))
	}
}

func testJoinLeaveControl(t *testing.T, newBroker func(t *testing.T) herald.Broker) {
	b, r := start(t, newBroker)
	ch := channel(t, b, "joinleave")
	ctx := context.Background()
	ann := herald.ClientInfo{Client: "c1", User: "ann", Info: []byte(`{"name":"Ann"}`)}
	anon := herald.ClientInfo{Client: "c2"}
	for _, c := range []herald.ClientInfo{ann, anon} {
		if err := b.PublishJoin(ctx, ch, c); err != nil {
			t.Fatalf("PublishJoin: %v", err)
		}
	}
	if err := b.PublishLeave(ctx, ch, ann); err != nil {
		t.Fatalf("PublishLeave: %v", err)
	}
	if err := b.PublishControl(ctx, []byte(`{"disconnect":{"user":"ann"}}`)); err != nil {
		t.Fatalf("PublishControl: %v", err)
	}
	if joins := r.WaitJoins(t, ch, 2); len(joins) != 2 || !SameClient(joins[0], ann) || !SameClient(joins[1], anon) {
		t.Fatalf("joins %+v, want %+v then %+v", joins, ann, anon)
	}
	if leaves := r.WaitLeaves(t, ch, 1); len(leaves) != 1 || !SameClient(leaves[0], ann) {
		t.Fatalf("leaves %+v, want %+v", leaves, ann)
	}
	// Another node's control messages may arrive too if the backend is
	// shared; this one must be among them.
	r.wait(func() bool {
		return slices.ContainsFunc(r.controls, func(d []byte) bool { return string(d) == `{"disconnect":{"user":"ann"}}` })
	})
	if !slices.ContainsFunc(r.Controls(), func(d []byte) bool { return string(d) == `{"disconnect":{"user":"ann"}}` }) {
		t.Fatalf("control message not delivered; got %q", r.Controls())
	}
}

// SameClient tells whether two ClientInfos are equal, counting a nil Info
// equal to an empty one.
func SameClient(a, b herald.ClientInfo) bool {
	return a.Client == b.Client && a.User == b.User && bytes.Equal(a.Info, b.Info)
}
