package memory

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: Close must
// stop the sweeper and wait for it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
