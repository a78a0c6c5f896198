package memory

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/heraldrt/herald"
)

// stream is one channel's history: the newest publications in a ring, the
// offset of the newest publication ever appended, and the epoch that names
// this history.
//
// The kept publications have the consecutive offsets oldest()..top, the
// oldest at ring[head]; so the publication at any offset is found by
// arithmetic, and a page costs what it returns, not what the history holds.
type stream struct {
	epoch string
	top   uint64 // offset of the newest publication, kept or not
	ring  [][]byte
	head  int // index in ring of the oldest kept publication
	n     int // how many publications are kept
	// expireAt is when the history is lost if nothing is published.
	expireAt time.Time
}

func newStream(expireAt time.Time) *stream {
	return &stream{epoch: newEpoch(), expireAt: expireAt}
}

func (st *stream) expired(now time.Time) bool { return now.After(st.expireAt) }

func (st *stream) position() herald.StreamPosition {
	return herald.StreamPosition{Offset: st.top, Epoch: st.epoch}
}

// oldest is the offset of the oldest kept publication; top+1 when none is
// kept.
func (st *stream) oldest() uint64 { return st.top - uint64(st.n) + 1 }

// append adds data at the next offset, keeping at most size publications.
// The ring grows on demand up to size, so that a channel configured for a
// large history but publishing little costs little.
func (st *stream) append(data []byte, size int, expireAt time.Time) herald.StreamPosition {
	for st.n >= size && st.n > 0 {
		// Also trims a history whose size was lowered on a live channel.
		st.dropOldest()
	}
	if st.n == len(st.ring) {
		st.grow(min(max(2*len(st.ring), 16), size))
	}
	st.ring[(st.head+st.n)%len(st.ring)] = data
	st.n++
	st.top++
	st.expireAt = expireAt
	return st.position()
}

func (st *stream) dropOldest() {
	st.ring[st.head] = nil // let the data be collected
	st.head = (st.head + 1) % len(st.ring)
	st.n--
}

func (st *stream) grow(size int) {
	ring := make([][]byte, size)
	for i := range st.n {
		ring[i] = st.ring[(st.head+i)%len(st.ring)]
	}
	st.ring, st.head = ring, 0
}

// clear drops every kept publication; top and epoch go on.
func (st *stream) clear() {
	st.ring, st.head, st.n = nil, 0, 0
}

// at returns the publication at offset off, which must be kept.
func (st *stream) at(off uint64) herald.Publication {
	i := int(off - st.oldest())
	return herald.Publication{
		Data:           st.ring[(st.head+i)%len(st.ring)],
		StreamPosition: herald.StreamPosition{Offset: off, Epoch: st.epoch},
	}
}

// page returns at most limit kept publications: forward, those after
// since (from the oldest when since is nil) in ascending order; in reverse,
// those before since (from the newest when since is nil) in descending
// order.
func (st *stream) page(since *herald.StreamPosition, limit int, reverse bool) []herald.Publication {
	if limit <= 0 || st.n == 0 {
		return nil
	}
	first, last := st.oldest(), st.top
	if !reverse {
		if since != nil {
			if since.Offset >= last {
				return nil
			}
			first = max(first, since.Offset+1)
		}
		n := min(uint64(limit), last-first+1)
		pubs := make([]herald.Publication, 0, n)
		for off := first; off < first+n; off++ {
			pubs = append(pubs, st.at(off))
		}
		return pubs
	}
	if since != nil {
		if since.Offset <= first {
			return nil
		}
		last = min(last, since.Offset-1)
	}
	n := min(uint64(limit), last-first+1)
	pubs := make([]herald.Publication, 0, n)
	for off := last; off > last-n; off-- {
		pubs = append(pubs, st.at(off))
	}
	return pubs
}

// newEpoch names a history: a new one is made whenever a history is lost
// (expired, or this process restarted), so that offsets from the old one are
// not mistaken for offsets in the new one.
func newEpoch() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
