package sse_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: every
// stream, relay and heartbeat must end when its owner closes.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
