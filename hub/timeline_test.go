package hub

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/heraldrt/herald"
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

// A stored event gives back the Event recorded, to the nanosecond, also
// for a kind the table does not list.
func TestStoredEventRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	for _, e := range []Event{
		{Time: at, Kind: "subscribe", Channel: "news", Text: "subscribed"},
		{Time: at, Kind: "disconnect", Code: 4000, Text: "shutting down"},
		{Time: at, Kind: "something_new", Text: "with text"},
	} {
		if got := storeEvent(e).event(); !got.Time.Equal(e.Time) || got.Kind != e.Kind || got.Code != e.Code || got.Channel != e.Channel || got.Text != e.Text {
			t.Errorf("stored %+v, got back %+v", e, got)
		}
	}
	if unsafe.Sizeof(storedEvent{}) > 48 {
		t.Errorf("storedEvent is %d bytes, want at most 48", unsafe.Sizeof(storedEvent{}))
	}
}

// Equal texts share one copy, and the cache stays bounded.
func TestTextCache(t *testing.T) {
	var c textCache
	a := c.intern(strings.Repeat("x", 10))
	b := c.intern(strings.Repeat("x", 10))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("two equal texts kept twice")
	}
	for i := range 3 * maxTexts {
		c.intern(strconv.Itoa(i))
	}
	if n := len(c.m); n > maxTexts {
		t.Errorf("%d texts cached, want at most %d", n, maxTexts)
	}
}

// The handshake stays first however many events pushed the others out,
// and the timeline holds TimelineSize events in all.
func TestTimelineKeepsHandshake(t *testing.T) {
	h := newTestHub(t, Config{TimelineSize: 3})
	sess, err := h.Accept(&recordingTransport{}, herald.ConnInfo{Transport: "websocket", RemoteAddr: "127.0.0.1:9", Origin: "https://app.example"})
	if err != nil {
		t.Fatal(err)
	}
	s := sess.(*Session)
	for i := range 5 {
		s.event(Event{Kind: "subscribe", Channel: "c" + strconv.Itoa(i), Text: "subscribed"})
	}
	c := s.describe()
	if len(c.Events) != 3 || c.Dropped != 3 || c.Events[0].Kind != "handshake" ||
		!strings.Contains(c.Events[0].Text, "websocket from 127.0.0.1:9") || !strings.Contains(c.Events[0].Text, "origin https://app.example") ||
		!c.Events[0].Time.Equal(c.Started) || c.Events[1].Channel != "c3" || c.Events[2].Channel != "c4" {
		t.Fatalf("timeline %+v dropped %d, want the handshake then c3 and c4, 3 dropped", c.Events, c.Dropped)
	}
	s.Disconnect(herald.DisconnectForceReconnect)
}
