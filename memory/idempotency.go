package memory

import (
	"time"

	"github.com/heraldrt/herald"
)

// idemKey names a publication retried with an idempotency key; keys are
// per channel, so two channels may use the same key.
type idemKey struct{ channel, key string }

// idemResult is the first result of a publication, returned to its retries
// until expireAt.
type idemResult struct {
	pos      herald.StreamPosition
	expireAt time.Time
}

// idempotent returns the first result of the publication named by key if
// its window is still open. The caller holds s.mu.
func (s *stripe) idempotent(k idemKey, now time.Time) (herald.StreamPosition, bool) {
	r, ok := s.idem[k]
	if !ok || now.After(r.expireAt) {
		return herald.StreamPosition{}, false
	}
	return r.pos, true
}

// remember keeps a publication's result for its retries. The sweeper frees
// it after the window, so memory is bounded by the publications with a key
// in one window. The caller holds s.mu.
func (s *stripe) remember(k idemKey, pos herald.StreamPosition, expireAt time.Time) {
	if s.idem == nil {
		s.idem = make(map[idemKey]idemResult)
	}
	s.idem[k] = idemResult{pos: pos, expireAt: expireAt}
}
