package hub

import (
	"context"
	"time"

	"github.com/heraldrt/herald"
)

// The per-user connection limit counts a user's connections on every
// node, not only this one: each node adds every connection of a user to a
// presence set of its own, under a key no channel can have ('$' is not
// allowed in channel names), and counts the set after adding. With a
// shared presence store (Redis) that is the whole cluster's count; with
// the memory one it is this node's, which the local index counts too.
//
// Add-then-count never lets more than the limit in while the store
// answers in one order: of two connects racing for the last place, the
// later count sees both, so at worst both are refused and one retries.
// Entries of a node that died count until the store expires them. If the
// store fails, only this node's limit applies, so that an outage of the
// store does not lock every user out.

// userPresenceKey is the presence key of a user's connections.
func userPresenceKey(user string) string { return "$herald:user:" + user }

// userOpTimeout bounds the store's round trips at connect and release.
const userOpTimeout = 5 * time.Second

// admitUser counts s among its user's connections on every node and
// reports whether that stays within UserConnectionLimit.
func (h *Hub) admitUser(s *Session, client, user string) bool {
	p := h.cfg.Presence
	if user == "" || h.cfg.UserConnectionLimit <= 0 || p == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), userOpTimeout)
	defer cancel()
	key := userPresenceKey(user)
	err := p.AddPresence(ctx, key, herald.ClientInfo{Client: client, User: user})
	// Counted even when the add failed: a shared store may keep the entry
	// to add it at its next refresh, so release must remove it.
	s.mu.Lock()
	closed := s.state == stateClosed
	s.userCounted = !closed
	s.mu.Unlock()
	if closed { // release ran before the entry was added, and missed it
		h.forgetUser(client, user)
		return true
	}
	if err != nil {
		h.log.Warn("user connections not counted across nodes: only this node's limit applies", "user", user, "err", err)
		return true
	}
	st, err := p.PresenceStats(ctx, key)
	if err != nil {
		h.log.Warn("user connections not counted across nodes: only this node's limit applies", "user", user, "err", err)
		return true
	}
	return st.NumClients <= h.cfg.UserConnectionLimit
}

// releaseUser removes a closed session from its user's count.
func (h *Hub) releaseUser(s *Session) {
	s.mu.Lock()
	counted := s.userCounted
	s.userCounted = false
	s.mu.Unlock()
	if counted {
		h.forgetUser(s.id, s.user)
	}
}

func (h *Hub) forgetUser(client, user string) {
	ctx, cancel := context.WithTimeout(context.Background(), userOpTimeout)
	defer cancel()
	if err := h.cfg.Presence.RemovePresence(ctx, userPresenceKey(user), client); err != nil {
		h.log.Warn("user connection not uncounted: it counts until the presence store expires it", "user", user, "client", client, "err", err)
	}
}
