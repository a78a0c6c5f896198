package auth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The run fails if a JWKS refresh goroutine or an HTTP connection outlives
// its Verifier.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
