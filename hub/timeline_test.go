package hub

import (
	"slices"
	"testing"
	"time"
)

// The ring keeps the last values, oldest first, and counts the dropped.
func TestRingBounded(t *testing.T) {
	var r ring[int]
	for i := range 5 {
		r.add(3, i)
	}
	if got := r.oldestFirst(); !slices.Equal(got, []int{2, 3, 4}) || r.dropped != 2 {
		t.Fatalf("ring of 3 after 0..4: %v dropped %d, want [2 3 4] dropped 2", got, r.dropped)
	}
}

// Closed timelines are found newest first, only while young enough, and
// never more than the limit kept.
func TestClosedTimelinesFind(t *testing.T) {
	var k closedTimelines
	now := time.Now()
	for i, user := range []string{"a", "b", "a", "a"} {
		k.add(3, ConnectionInfo{Client: string(rune('0' + i)), User: user, Closed: now.Add(time.Duration(i) * time.Minute)})
	}
	got := k.find(ConnQuery{User: "a"}, now.Add(-time.Hour), 10)
	if len(got) != 2 || got[0].Client != "3" || got[1].Client != "2" {
		t.Fatalf("user a: %+v, want clients 3 then 2 (0 fell out of the ring of 3)", got)
	}
	if got := k.find(ConnQuery{}, now.Add(150*time.Second), 10); len(got) != 1 || got[0].Client != "3" {
		t.Fatalf("closed after 2.5m: %+v, want only client 3", got)
	}
}
