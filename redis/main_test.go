package redis_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: Close must
// stop every pub/sub loop and dispatcher, and close the clients.
//
// rueidis's cluster client closes the connections a slot map refresh
// replaced five seconds later, in a goroutine of its own that Close does
// not wait for; it ends by itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"))
}
