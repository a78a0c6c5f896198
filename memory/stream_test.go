package memory

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

var far = time.Unix(1<<40, 0)

// filled returns a stream after publishing the data "1".."n" at offsets
// 1..n with the given history size.
func filled(size, n int) *stream {
	st := newStream(far)
	for i := 1; i <= n; i++ {
		st.append([]byte(fmt.Sprint(i)), size, far)
	}
	return st
}

func offsets(t *testing.T, st *stream, pubs []herald.Publication) []uint64 {
	t.Helper()
	var offs []uint64
	for _, p := range pubs {
		if p.Epoch != st.epoch || string(p.Data) != fmt.Sprint(p.Offset) {
			t.Fatalf("publication at %d: epoch %q data %q, want %q and %d", p.Offset, p.Epoch, p.Data, st.epoch, p.Offset)
		}
		offs = append(offs, p.Offset)
	}
	return offs
}

func TestStreamPage(t *testing.T) {
	since := func(off uint64) *herald.StreamPosition { return &herald.StreamPosition{Offset: off} }
	// seq lists the offsets from..to, descending if from > to.
	seq := func(from, to uint64) []uint64 {
		s := []uint64{from}
		for o := from; o != to; s = append(s, o) {
			if from < to {
				o++
			} else {
				o--
			}
		}
		return s
	}
	tests := []struct {
		name    string
		size, n int
		since   *herald.StreamPosition
		limit   int
		reverse bool
		want    []uint64
	}{
		{"empty", 5, 0, nil, 10, false, nil},
		{"empty reverse", 5, 0, nil, 10, true, nil},
		{"forward all", 5, 5, nil, 10, false, seq(1, 5)},
		{"forward limited", 5, 5, nil, 2, false, seq(1, 2)},
		{"forward since middle", 5, 5, since(2), 2, false, seq(3, 4)},
		{"forward since top", 5, 5, since(5), 10, false, nil},
		{"forward since beyond top", 5, 5, since(9), 10, false, nil},
		{"forward since max", 5, 5, since(1<<64 - 1), 10, false, nil},
		{"reverse all", 5, 5, nil, 10, true, seq(5, 1)},
		{"reverse limited", 5, 5, nil, 2, true, seq(5, 4)},
		{"reverse since middle", 5, 5, since(4), 10, true, seq(3, 1)},
		{"reverse since beyond top", 5, 5, since(9), 2, true, seq(5, 4)},
		{"reverse since oldest", 5, 5, since(1), 10, true, nil},
		{"reverse since zero", 5, 5, since(0), 10, true, nil},
		{"limit 0", 5, 5, nil, 0, false, nil},
		{"negative limit", 5, 5, nil, -1, false, nil},
		{"wrapped forward", 4, 10, nil, 10, false, seq(7, 10)},
		{"wrapped forward since lost", 4, 10, since(2), 10, false, seq(7, 10)},
		{"wrapped forward since kept", 4, 10, since(8), 10, false, seq(9, 10)},
		{"wrapped reverse", 4, 10, nil, 3, true, seq(10, 8)},
		{"wrapped reverse since kept", 4, 10, since(9), 10, true, seq(8, 7)},
		{"wrapped reverse since lost", 4, 10, since(5), 10, true, nil},
		{"grown", 100, 40, since(30), 100, false, seq(31, 40)},
		{"grown then wrapped", 20, 53, nil, 100, false, seq(34, 53)},
		{"grown then wrapped reverse", 20, 53, since(40), 3, true, seq(39, 37)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := filled(tt.size, tt.n)
			got := offsets(t, st, st.page(tt.since, tt.limit, tt.reverse))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if st.top != uint64(tt.n) {
				t.Fatalf("top %d, want %d", st.top, tt.n)
			}
		})
	}
}

// The ring keeps the last publications across wrap-around, including when
// the configured size shrinks or grows on a live channel.
func TestRingKeepsTheLastPublications(t *testing.T) {
	st := filled(3, 5)
	if got := offsets(t, st, st.page(nil, 10, false)); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("kept %v, want 3 4 5", got)
	}
	for i := 6; i <= 10; i++ {
		st.append([]byte(fmt.Sprint(i)), 2, far) // shrunk
	}
	if got := offsets(t, st, st.page(nil, 10, false)); !slices.Equal(got, []uint64{9, 10}) {
		t.Fatalf("after shrinking kept %v, want 9 10", got)
	}
	for i := 11; i <= 15; i++ {
		st.append([]byte(fmt.Sprint(i)), 4, far) // grown again
	}
	if got := offsets(t, st, st.page(nil, 10, false)); !slices.Equal(got, []uint64{12, 13, 14, 15}) {
		t.Fatalf("after growing kept %v, want 12..15", got)
	}
}

func TestStreamClearKeepsOffsets(t *testing.T) {
	st := filled(4, 10)
	epoch := st.epoch
	st.clear()
	if pubs := st.page(nil, 10, false); len(pubs) != 0 {
		t.Fatalf("after clear: %d publications", len(pubs))
	}
	if pubs := st.page(nil, 10, true); len(pubs) != 0 {
		t.Fatalf("after clear, reverse: %d publications", len(pubs))
	}
	if pos := st.append([]byte("11"), 4, far); pos != (herald.StreamPosition{Offset: 11, Epoch: epoch}) {
		t.Fatalf("after clear appended at %+v", pos)
	}
	if got := offsets(t, st, st.page(&herald.StreamPosition{Offset: 3}, 10, false)); !slices.Equal(got, []uint64{11}) {
		t.Fatalf("after clear and append: %v, want 11", got)
	}
}

// Reading the tail of a long history costs what it returns: compare the
// two benchmarks.
func BenchmarkPageTail(b *testing.B) {
	for _, size := range []int{100, 100_000} {
		st := filled(size, size*2)
		since := &herald.StreamPosition{Offset: st.top - 10}
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			for b.Loop() {
				if len(st.page(since, 100, false)) != 10 {
					b.Fatal("wrong page")
				}
			}
		})
	}
}
