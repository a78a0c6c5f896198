package hub

// RecordEventForBench records one subscribe-sized event, for the
// benchmarks of package hub_test.
func RecordEventForBench(s *Session) {
	s.event(Event{Kind: "subscribe", Channel: "bench", Text: "subscribed"})
}

// TapsForTest is how many taps are running on h.
func TapsForTest(h *Hub) int { return int(h.taps.n.Load()) }
