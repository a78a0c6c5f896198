package hub

// RecordEventForBench records one subscribe-sized event, for the
// benchmarks of package hub_test.
func RecordEventForBench(s *Session) {
	s.event(Event{Kind: "subscribe", Channel: "bench", Text: "subscribed"})
}
