package redis_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: Close must
// stop every pub/sub loop and dispatcher, and close the clients.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
