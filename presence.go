package herald

import (
	"context"
	"encoding/json"
)

// ClientInfo is what presence and join/leave pushes tell about a
// connection: its id, its user (empty for anonymous connections) and the
// public info the application attached to it.
type ClientInfo struct {
	Client string          `json:"client"`
	User   string          `json:"user"`
	Info   json.RawMessage `json:"info,omitempty"`
}

// PresenceStats counts a channel's subscribers. NumUsers counts distinct
// non-empty user ids: anonymous connections are clients, not users.
type PresenceStats struct {
	NumClients int `json:"num_clients"`
	NumUsers   int `json:"num_users"`
}

// Presence keeps who is subscribed to channels with presence on. Entries of
// a node that dies without removing them must expire on their own: a
// shared implementation (Redis) gives entries a lifetime and re-adds the
// entries its node added, until they are removed, before it runs out; the
// memory one dies with its process and needs none.
type Presence interface {
	// AddPresence adds or refreshes a client's entry in the channel.
	AddPresence(ctx context.Context, channel string, c ClientInfo) error
	// RemovePresence removes it.
	RemovePresence(ctx context.Context, channel, client string) error
	// Presence lists the channel's entries by client id.
	Presence(ctx context.Context, channel string) (map[string]ClientInfo, error)
	// PresenceStats counts them.
	PresenceStats(ctx context.Context, channel string) (PresenceStats, error)
}
