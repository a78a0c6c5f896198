package historyhttp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves the hub's or the servers'
// goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
