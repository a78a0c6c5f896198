package hub

import (
	"strconv"
	"testing"
	"time"
)

// The series keeps one slot per minute for DisconnectMinutes minutes and
// at most disconnectCodes codes a minute, whatever comes in.
func TestDisconnectSeriesBounded(t *testing.T) {
	var d disconnectSeries
	start := time.Unix(1_800_000_000, 0)
	for m := range 3 * DisconnectMinutes {
		d.add(start.Add(time.Duration(m)*time.Minute), 4002, "slow")
	}
	now := start.Add(time.Duration(3*DisconnectMinutes-1) * time.Minute)
	got, names := d.last(now, 1000)
	if len(got) != DisconnectMinutes {
		t.Fatalf("%d minutes kept, want %d", len(got), DisconnectMinutes)
	}
	if first := now.Add(-time.Duration(DisconnectMinutes-1) * time.Minute).Truncate(time.Minute); !got[0].Time.Equal(first) {
		t.Fatalf("oldest minute %v, want %v", got[0].Time, first)
	}
	if got[len(got)-1].Codes["4002"] != 1 || names["4002"] != "slow" {
		t.Fatalf("last minute %+v names %v, want one slow", got[len(got)-1], names)
	}

	// Many distinct codes in one minute: the extra ones are "other".
	for c := range 100 {
		d.add(now, uint16(5000+c), "custom"+strconv.Itoa(c))
	}
	got, names = d.last(now, 1)
	if len(got) != 1 || len(got[0].Codes) > disconnectCodes {
		t.Fatalf("one minute with 101 codes: %d codes kept, want at most %d", len(got[0].Codes), disconnectCodes)
	}
	if other := got[0].Codes[strconv.Itoa(OtherDisconnects)]; other != 100-(disconnectCodes-2) || names[strconv.Itoa(OtherDisconnects)] != "other" {
		t.Fatalf("other: %d (%q), want %d", other, names[strconv.Itoa(OtherDisconnects)], 100-(disconnectCodes-2))
	}
	if len(d.names) > 4*disconnectCodes {
		t.Fatalf("%d names kept, want at most %d", len(d.names), 4*disconnectCodes)
	}

	// Minutes not written for an hour read as empty, not as old counts.
	if got, _ := d.last(now.Add(2*time.Hour), DisconnectMinutes); len(got) != 0 {
		t.Fatalf("two hours later: %+v, want nothing", got)
	}
}

// BenchmarkDisconnectCount measures counting one disconnect in the
// per-minute series (once per connection that ends).
func BenchmarkDisconnectCount(b *testing.B) {
	var d disconnectSeries
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		d.add(now, 4002, "slow")
	}
}
