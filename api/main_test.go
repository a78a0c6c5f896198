package api_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: the hub, the
// broker, the sessions' writers and the test servers must all end when
// their owners close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
