package hooks_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: every call
// must end by its timeout, and the test backends and the clients' idle
// connections must close with their owners.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
