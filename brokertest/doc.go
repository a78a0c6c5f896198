// Package brokertest is the conformance suite every herald.Broker and
// herald.Presence implementation passes, so that the hub can rely on one
// behaviour whichever backend runs under it.
//
// Start with RunBroker and RunPresence: call them from a test in the
// implementation's package with a function that makes a new instance.
//
//	func TestConformance(t *testing.T) {
//		brokertest.RunBroker(t, func(t *testing.T) herald.Broker { return memory.New() })
//		brokertest.RunPresence(t, func(t *testing.T) herald.Presence { return memory.NewPresence() })
//	}
//
// The suite assumes no timing: a broker may deliver asynchronously, and the
// suite waits for deliveries with Recorder, a BrokerHandler that records
// what it is given and fails a test only at a generous deadline. Recorder is
// also useful on its own, to test what runs on top of a broker.
package brokertest
