package memory

import (
	"bytes"
	"context"
	"hash/maphash"
	"maps"
	"sync"

	"github.com/heraldrt/herald"
)

var _ herald.Presence = (*Presence)(nil)

// Presence keeps who is subscribed to channels, in memory. Its entries need
// no expiry: they die with the process, which is the only node. The zero
// value is not usable; call NewPresence.
type Presence struct {
	seed    maphash.Seed
	stripes [stripes]presenceStripe
}

type presenceStripe struct {
	mu sync.Mutex
	// channels maps a channel to its entries by client id; a channel
	// without entries is deleted, so that it costs nothing.
	channels map[string]map[string]herald.ClientInfo
}

// NewPresence returns an empty presence.
func NewPresence() *Presence {
	return &Presence{seed: maphash.MakeSeed()}
}

func (p *Presence) stripe(channel string) *presenceStripe {
	return &p.stripes[maphash.String(p.seed, channel)%stripes]
}

// AddPresence adds the client's entry to the channel or replaces it.
func (p *Presence) AddPresence(_ context.Context, channel string, c herald.ClientInfo) error {
	// The caller may reuse the buffer Info came from.
	c.Info = bytes.Clone(c.Info)
	s := p.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.channels == nil {
		s.channels = make(map[string]map[string]herald.ClientInfo)
	}
	clients := s.channels[channel]
	if clients == nil {
		clients = make(map[string]herald.ClientInfo)
		s.channels[channel] = clients
	}
	clients[c.Client] = c
	return nil
}

// RemovePresence removes the client's entry from the channel, if any.
func (p *Presence) RemovePresence(_ context.Context, channel, client string) error {
	s := p.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := s.channels[channel]
	delete(clients, client)
	if len(clients) == 0 {
		delete(s.channels, channel)
	}
	return nil
}

// Presence returns a copy of the channel's entries by client id, never nil;
// their Info is shared and must not be modified.
func (p *Presence) Presence(_ context.Context, channel string) (map[string]herald.ClientInfo, error) {
	s := p.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := maps.Clone(s.channels[channel])
	if clients == nil {
		// An empty list, not null, when encoded.
		clients = map[string]herald.ClientInfo{}
	}
	return clients, nil
}

// PresenceStats counts the channel's clients and its distinct non-empty
// users.
func (p *Presence) PresenceStats(_ context.Context, channel string) (herald.PresenceStats, error) {
	s := p.stripe(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := s.channels[channel]
	users := make(map[string]struct{}, len(clients))
	for _, c := range clients {
		if c.User != "" {
			users[c.User] = struct{}{}
		}
	}
	return herald.PresenceStats{NumClients: len(clients), NumUsers: len(users)}, nil
}
