package memory

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

type recorder struct {
	mu   sync.Mutex
	pubs map[string][]herald.Publication
}

func (r *recorder) HandlePublication(ch string, pub herald.Publication) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pubs == nil {
		r.pubs = map[string][]herald.Publication{}
	}
	r.pubs[ch] = append(r.pubs[ch], pub)
}

func start(t *testing.T) (*Broker, *recorder) {
	t.Helper()
	b, r := New(), &recorder{}
	if err := b.Start(r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, r
}

func TestPublishBeforeStartAndAfterClose(t *testing.T) {
	b := New()
	if _, err := b.Publish(context.Background(), "a", []byte("1"), herald.PublishOptions{}); err != ErrNotRunning {
		t.Fatalf("before Start: %v", err)
	}
	_ = b.Start(&recorder{})
	b.Close()
	if _, err := b.Publish(context.Background(), "a", []byte("1"), herald.PublishOptions{}); err != ErrNotRunning {
		t.Fatalf("after Close: %v", err)
	}
}

func TestOffsetsWithAndWithoutHistory(t *testing.T) {
	b, r := start(t)
	ctx := context.Background()
	hist := herald.PublishOptions{HistorySize: 3, HistoryTTL: time.Minute}
	var epoch string
	for i := uint64(1); i <= 5; i++ {
		pos, err := b.Publish(ctx, "h", []byte("1"), hist)
		if err != nil || pos.Offset != i || pos.Epoch == "" || (epoch != "" && pos.Epoch != epoch) {
			t.Fatalf("publish %d: %+v %v", i, pos, err)
		}
		epoch = pos.Epoch
	}
	pos, _ := b.Publish(ctx, "plain", []byte("1"), herald.PublishOptions{})
	if pos != (herald.StreamPosition{}) {
		t.Fatalf("no history, got %+v", pos)
	}
	if len(r.pubs["h"]) != 5 || r.pubs["h"][4].Offset != 5 {
		t.Fatalf("delivered %+v", r.pubs["h"])
	}
}

// A history that expires is freed, and the next publication starts a new
// one with a new epoch, so an old offset cannot be mistaken for a new one.
func TestHistoryExpiresWithNewEpoch(t *testing.T) {
	b, _ := start(t)
	now := time.Unix(1000, 0)
	b.now = func() time.Time { return now }
	opts := herald.PublishOptions{HistorySize: 2, HistoryTTL: time.Minute}
	first, _ := b.Publish(context.Background(), "h", []byte("1"), opts)
	if b.Streams() != 1 {
		t.Fatal("no stream kept")
	}
	now = now.Add(2 * time.Minute)
	b.sweep()
	if b.Streams() != 0 {
		t.Fatal("an expired history was not freed")
	}
	next, _ := b.Publish(context.Background(), "h", []byte("2"), opts)
	if next.Offset != 1 || next.Epoch == first.Epoch {
		t.Fatalf("after expiry got %+v, first was %+v", next, first)
	}
}

func TestRingKeepsTheLastPublications(t *testing.T) {
	st := newStream(3)
	opts := herald.PublishOptions{HistorySize: 3, HistoryTTL: time.Minute}
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		st.append([]byte(d), opts, time.Now())
	}
	// Offsets 3, 4, 5 are kept, at (offset-1) % 3.
	want := map[uint64]string{3: "c", 4: "d", 5: "e"}
	for off, d := range want {
		if got := string(st.ring[(off-1)%3]); got != d {
			t.Fatalf("offset %d: %q, want %q", off, got, d)
		}
	}
}

func TestConcurrentPublishersGetDistinctOffsets(t *testing.T) {
	b, r := start(t)
	opts := herald.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := b.Publish(context.Background(), "c", []byte("1"), opts); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for i, p := range r.pubs["c"] {
		if p.Offset != uint64(i+1) {
			t.Fatalf("delivery %d has offset %d: deliveries must follow offsets", i, p.Offset)
		}
	}
}
