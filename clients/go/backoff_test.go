package client

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const lo, hi = 200 * time.Millisecond, 20 * time.Second
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 80 {
		ceiling := lo
		for i := 0; i < n && ceiling < hi; i++ {
			ceiling *= 2
		}
		ceiling = min(ceiling, hi)
		seen := map[time.Duration]bool{}
		var most time.Duration
		for range 200 {
			d := backoff(r, n, lo, hi)
			if d < 0 || d >= ceiling {
				t.Fatalf("attempt %d: %s outside [0, %s)", n, d, ceiling)
			}
			seen[d] = true
			most = max(most, d)
		}
		// Full jitter: spread over the whole range, not clustered at its top.
		if len(seen) < 150 || most < ceiling/2 {
			t.Fatalf("attempt %d: %d distinct delays, largest %s of %s", n, len(seen), most, ceiling)
		}
	}
	// The same seed gives the same delays, so a failure can be replayed.
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for n := range 10 {
		if x, y := backoff(a, n, lo, hi), backoff(b, n, lo, hi); x != y {
			t.Fatalf("attempt %d: %s and %s from one seed", n, x, y)
		}
	}
	if d := backoff(r, 3, 0, 0); d != 0 {
		t.Fatalf("zero delays: %s", d)
	}
}

// TestBackoffGrows: the mean delay doubles with each attempt until the cap.
func TestBackoffGrows(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 10 * time.Second
	r := rand.New(rand.NewPCG(3, 4))
	mean := func(n int) time.Duration {
		var sum time.Duration
		for range 2000 {
			sum += backoff(r, n, lo, hi)
		}
		return sum / 2000
	}
	prev := mean(0)
	for n := 1; n <= 6; n++ { // 100ms * 2^6 = 6.4s, below the cap
		m := mean(n)
		if ratio := float64(m) / float64(prev); ratio < 1.7 || ratio > 2.3 {
			t.Fatalf("attempt %d: mean %s, previous %s", n, m, prev)
		}
		prev = m
	}
	if m := mean(20); m < hi*4/10 || m > hi*6/10 {
		t.Fatalf("capped mean %s, want about %s", m, hi/2)
	}
}
