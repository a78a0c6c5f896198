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
// not wait for; it ends by itself. After a MOVED (a reshard) it also
// refreshes the map lazily, after a random delay of up to a second, in
// another goroutine it does not wait for.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
}
