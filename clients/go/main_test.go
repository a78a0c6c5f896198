package client_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: Close must
// stop and wait for every goroutine of the client.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
