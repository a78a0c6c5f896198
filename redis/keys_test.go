package redis

import "testing"

// ShardIndex is documented (docs/deployment.md: FNV-1a, 32 bits, of the
// channel name, modulo the number of shards) and every node must agree on
// it: these values must never change.
func TestShardIndexIsFixed(t *testing.T) {
	for _, tt := range []struct {
		channel string
		n, want int
	}{
		{"news", 1, 0},
		{"news", 2, 0}, // FNV-1a("news") = 1271381062
		{"news", 3, 1},
		{"chat:lobby", 2, 1}, // 894957657
		{"chat:lobby", 5, 2},
		{"a", 3, 1}, // 3826002220
	} {
		if got := ShardIndex(tt.channel, tt.n); got != tt.want {
			t.Errorf("ShardIndex(%q, %d) = %d, want %d", tt.channel, tt.n, got, tt.want)
		}
	}
}

func TestChannelNames(t *testing.T) {
	// (An empty name is no channel: its tag {} would be empty.)
	for _, ch := range []string{"news", "chat:lobby", "a}b", "{x}"} {
		name := keys{"herald", ch}.pubsub()
		got, ok := channelOf("herald", name)
		if !ok || got != ch {
			t.Errorf("channelOf(%q) = %q %t, want %q", name, got, ok, ch)
		}
		if slot(keys{"herald", ch}.stream()) != slot(name) || slot(keys{"herald", ch}.idem("k}{")) != slot(name) {
			t.Errorf("the keys of %q are not in its pub/sub channel's slot", ch)
		}
	}
	if _, ok := channelOf("herald", "herald:control"); ok {
		t.Error("the control channel read as a channel")
	}
}

func TestParsePublication(t *testing.T) {
	p, ok := parsePublication(`p7 ab12 c1 {"a": "b c"}`)
	if !ok || p.Offset != 7 || p.Epoch != "ab12" || p.Origin != "c1" || string(p.Data) != `{"a": "b c"}` {
		t.Fatalf("got %+v %t", p, ok)
	}
	p, ok = parsePublication(`p0   1`)
	if !ok || p.Offset != 0 || p.Epoch != "" || p.Origin != "" || string(p.Data) != "1" {
		t.Fatalf("without history got %+v %t", p, ok)
	}
	for _, bad := range []string{"p", "px a b c", "p1 a b"} {
		if _, ok := parsePublication(bad); ok {
			t.Errorf("parsePublication(%q) accepted", bad)
		}
	}
}
