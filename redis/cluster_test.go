package redis

import "testing"

// The slots Redis documents for these keys (CLUSTER KEYSLOT).
func TestSlot(t *testing.T) {
	for key, want := range map[string]uint16{
		"123456789":       12739, // the CRC16 check value 0x31C3, mod 16384
		"foo":             12182,
		"{user1000}.a":    3443,
		"x{user1000}y":    3443,
		"{}foo":           slot("{}foo"), // an empty tag hashes the whole name
		"herald:{news}:s": slot("news"),
		"herald:{news}":   slot("news"),
	} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
}
