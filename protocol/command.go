package protocol

import "encoding/json"

// Command is one client-to-server message. Exactly one request field is set;
// its JSON key is the command's name.
type Command struct {
	// ID is echoed by the reply. A command without an id (0) gets no reply
	// unless it fails; pong never has one.
	ID uint32 `json:"id,omitempty"`

	Connect     *ConnectRequest     `json:"connect,omitempty"`
	Subscribe   *SubscribeRequest   `json:"subscribe,omitempty"`
	Unsubscribe *UnsubscribeRequest `json:"unsubscribe,omitempty"`
	Publish     *PublishRequest     `json:"publish,omitempty"`
	Ping        *PingRequest        `json:"ping,omitempty"`
	// Pong answers the server's ping push.
	Pong          *PongRequest          `json:"pong,omitempty"`
	History       *HistoryRequest       `json:"history,omitempty"`
	Presence      *PresenceRequest      `json:"presence,omitempty"`
	PresenceStats *PresenceStatsRequest `json:"presence_stats,omitempty"`
	RPC           *RPCRequest           `json:"rpc,omitempty"`
	Refresh       *RefreshRequest       `json:"refresh,omitempty"`
	SubRefresh    *SubRefreshRequest    `json:"sub_refresh,omitempty"`
}

// ConnectRequest opens the session. It must be the first command.
type ConnectRequest struct {
	// Token authenticates the connection (see docs/protocol.md).
	Token string `json:"token,omitempty"`
	// Name and Version describe the client library, for logs and metrics.
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	// Data is passed as-is to the application's connect hook.
	Data json.RawMessage `json:"data,omitempty"`
	// LastDisconnect is how the client's previous connection ended as the
	// client saw it, sent when it reconnects: the server puts it on the
	// new connection's timeline ("client saw 1006 after 3 missed pings").
	LastDisconnect *LastDisconnect `json:"last_disconnect,omitempty"`
}

// LastDisconnect is a client's own account of its last disconnect.
type LastDisconnect struct {
	Code   uint16 `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// SubscribeRequest subscribes the connection to a channel.
type SubscribeRequest struct {
	Channel string `json:"channel"`
	// Token is a subscription token for a private channel.
	Token string `json:"token,omitempty"`
	// Recover asks for the publications missed since Offset in Epoch.
	Recover bool   `json:"recover,omitempty"`
	Offset  uint64 `json:"offset,omitempty"`
	Epoch   string `json:"epoch,omitempty"`
}

// UnsubscribeRequest ends a subscription.
type UnsubscribeRequest struct {
	Channel string `json:"channel"`
}

// PublishRequest publishes from the client, where the namespace allows it.
type PublishRequest struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	// Ephemeral publications bypass the channel's history: no offset,
	// nothing to recover ("someone is typing").
	Ephemeral bool `json:"ephemeral,omitempty"`
	// Echo false keeps the publication from coming back to the publisher's
	// own connection. Absent means true.
	Echo *bool `json:"echo,omitempty"`
}

// Position is a place in a channel's stream.
type Position struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// HistoryRequest pages through a channel's history.
type HistoryRequest struct {
	Channel string `json:"channel"`
	// Since pages after this position (before it with Reverse); absent
	// pages from the oldest (newest with Reverse) publication kept.
	Since *Position `json:"since,omitempty"`
	// Limit is the most publications to return; 0 returns only the
	// channel's position. Negative is an error.
	Limit int64 `json:"limit,omitempty"`
	// Reverse pages from newest to oldest.
	Reverse bool `json:"reverse,omitempty"`
}

// RefreshRequest replaces the connection's credentials before they expire.
type RefreshRequest struct {
	Token string `json:"token"`
}

// SubRefreshRequest replaces a subscription token before it expires.
type SubRefreshRequest struct {
	Channel string `json:"channel"`
	Token   string `json:"token"`
}

// PresenceRequest lists who is subscribed to a channel with presence on.
type PresenceRequest struct {
	Channel string `json:"channel"`
}

// PresenceStatsRequest counts them.
type PresenceStatsRequest struct {
	Channel string `json:"channel"`
}

// RPCRequest calls a method on the server (or, through it, on the
// application backend).
type RPCRequest struct {
	Method string          `json:"method"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// PingRequest asks the server for a pong reply, to measure a round trip or
// check the connection.
type PingRequest struct{}

// PongRequest answers the server's ping push.
type PongRequest struct{}

// Name is the command's name, the key it carries ("connect", "subscribe", ...),
// or "" if it carries none.
func (c *Command) Name() string {
	switch {
	case c.Connect != nil:
		return "connect"
	case c.Subscribe != nil:
		return "subscribe"
	case c.Unsubscribe != nil:
		return "unsubscribe"
	case c.Publish != nil:
		return "publish"
	case c.Ping != nil:
		return "ping"
	case c.Pong != nil:
		return "pong"
	case c.History != nil:
		return "history"
	case c.Presence != nil:
		return "presence"
	case c.PresenceStats != nil:
		return "presence_stats"
	case c.RPC != nil:
		return "rpc"
	case c.Refresh != nil:
		return "refresh"
	case c.SubRefresh != nil:
		return "sub_refresh"
	}
	return ""
}

// count is how many request fields are set; a valid command has one.
func (c *Command) count() int {
	n := 0
	for _, set := range [...]bool{c.Connect != nil, c.Subscribe != nil, c.Unsubscribe != nil, c.Publish != nil, c.Ping != nil, c.Pong != nil,
		c.History != nil, c.Presence != nil, c.PresenceStats != nil, c.RPC != nil, c.Refresh != nil, c.SubRefresh != nil} {
		if set {
			n++
		}
	}
	return n
}
