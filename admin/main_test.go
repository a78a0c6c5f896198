package admin_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: streams
// must end with their requests, taps with their streams.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
