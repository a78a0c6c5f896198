package protocol

import "encoding/json"

// Reply answers one command and echoes its id. Either Error or the result
// named like the command is set.
type Reply struct {
	ID    uint32 `json:"id,omitempty"`
	Error *Error `json:"error,omitempty"`

	Connect       *ConnectResult       `json:"connect,omitempty"`
	Subscribe     *SubscribeResult     `json:"subscribe,omitempty"`
	Unsubscribe   *UnsubscribeResult   `json:"unsubscribe,omitempty"`
	Publish       *PublishResult       `json:"publish,omitempty"`
	Pong          *PongResult          `json:"pong,omitempty"`
	History       *HistoryResult       `json:"history,omitempty"`
	Presence      *PresenceResult      `json:"presence,omitempty"`
	PresenceStats *PresenceStatsResult `json:"presence_stats,omitempty"`
	RPC           *RPCResult           `json:"rpc,omitempty"`
	Refresh       *RefreshResult       `json:"refresh,omitempty"`
	SubRefresh    *SubRefreshResult    `json:"sub_refresh,omitempty"`
}

// Error is a failed command's reply: a stable code from the catalog, a
// message a person can act on, and whether retrying may succeed.
type Error struct {
	Code      uint32 `json:"code"`
	Message   string `json:"message"`
	Temporary bool   `json:"temporary,omitempty"`
}

// ConnectResult opens the session.
type ConnectResult struct {
	// Client is the connection's id, unique across nodes.
	Client string `json:"client"`
	// Version is the server's version.
	Version string `json:"version"`
	// Ping is the server's ping interval in seconds: a client that sees no
	// ping for Ping + its grace period must reconnect.
	Ping uint32 `json:"ping"`
	// Pong says that the server expects a pong answer to each ping.
	Pong bool `json:"pong"`
	// User is the authenticated user id; absent for anonymous connections.
	User string `json:"user,omitempty"`
	// Expires says that the credentials expire in TTL seconds: send refresh
	// with a new token before then, or the connection is closed with 4005.
	Expires bool   `json:"expires,omitempty"`
	TTL     uint32 `json:"ttl,omitempty"`
}

// RefreshResult confirms new connection credentials.
type RefreshResult struct {
	Expires bool   `json:"expires,omitempty"`
	TTL     uint32 `json:"ttl,omitempty"`
}

// SubRefreshResult confirms a new subscription token.
type SubRefreshResult struct {
	Expires bool   `json:"expires,omitempty"`
	TTL     uint32 `json:"ttl,omitempty"`
}

// SubscribeResult confirms a subscription. In a channel that keeps history
// (Recoverable), Offset and Epoch are the position the client is at once
// it has processed the reply: later publications arrive live, earlier ones
// can be recovered from it.
type SubscribeResult struct {
	Offset      uint64 `json:"offset,omitempty"`
	Epoch       string `json:"epoch,omitempty"`
	Recoverable bool   `json:"recoverable,omitempty"`
	// Recovered answers a subscribe with recover: true when Publications
	// hold every publication missed since the given position, in order;
	// false when they cannot (epoch changed, history trimmed or expired,
	// too many missed) and the app should refetch its state.
	Recovered    bool      `json:"recovered,omitempty"`
	Publications []PubPush `json:"publications,omitempty"`
	// Expires says that the subscription token expires in TTL seconds:
	// send sub_refresh before then, or the subscription ends.
	Expires bool   `json:"expires,omitempty"`
	TTL     uint32 `json:"ttl,omitempty"`
	// HistoryHTTP says that anyone may read the channel's history at
	// GET /history/{channel} (package historyhttp), where caches keep it:
	// a client recovering later reads what it missed there first.
	HistoryHTTP bool `json:"history_http,omitempty"`
}

// UnsubscribeResult confirms the end of a subscription.
type UnsubscribeResult struct{}

// PublishResult gives the publication's place in the channel's stream
// (zero offset and empty epoch when the channel keeps no history).
type PublishResult struct {
	Offset uint64 `json:"offset,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
}

// PongResult answers a ping command.
type PongResult struct{}

// HistoryResult is a page of history and the channel's current position.
// Every field is always present, so scripts can rely on them.
type HistoryResult struct {
	Publications []PubPush `json:"publications"`
	Offset       uint64    `json:"offset"`
	Epoch        string    `json:"epoch"`
}

// ClientInfo describes a connection in presence and join/leave pushes.
type ClientInfo struct {
	Client string          `json:"client"`
	User   string          `json:"user"`
	Info   json.RawMessage `json:"info,omitempty"`
}

// PresenceResult lists a channel's subscribers by client id.
type PresenceResult struct {
	Presence map[string]ClientInfo `json:"presence"`
}

// PresenceStatsResult counts them; anonymous clients are not users.
type PresenceStatsResult struct {
	NumClients int `json:"num_clients"`
	NumUsers   int `json:"num_users"`
}

// RPCResult is the method's answer.
type RPCResult struct {
	Data json.RawMessage `json:"data,omitempty"`
}

// Push is a server-to-client message that answers no command. Channel is
// set for the pushes that concern one channel.
type Push struct {
	Channel    string          `json:"channel,omitempty"`
	Pub        *PubPush        `json:"pub,omitempty"`
	Disconnect *DisconnectPush `json:"disconnect,omitempty"`
	Ping       *PingPush       `json:"ping,omitempty"`
	Join       *ClientInfo     `json:"join,omitempty"`
	Leave      *ClientInfo     `json:"leave,omitempty"`
	// Sub tells that the server subscribed the connection to Channel (server
	// API subscribe); Unsub that it ended a subscription.
	Sub   *SubPush   `json:"sub,omitempty"`
	Unsub *UnsubPush `json:"unsub,omitempty"`
}

// SubPush announces a subscription made by the server, with the channel's
// position as in SubscribeResult.
type SubPush struct {
	Offset      uint64 `json:"offset,omitempty"`
	Epoch       string `json:"epoch,omitempty"`
	Recoverable bool   `json:"recoverable,omitempty"`
}

// UnsubPush announces the end of a subscription made by the server.
type UnsubPush struct{}

// PubPush is a publication delivered to a subscriber.
type PubPush struct {
	Offset uint64          `json:"offset,omitempty"`
	Epoch  string          `json:"epoch,omitempty"`
	Data   json.RawMessage `json:"data"`
}

// DisconnectPush precedes the end of the connection, with the same code
// and reason as the WebSocket close frame.
type DisconnectPush struct {
	Code      uint16 `json:"code"`
	Reason    string `json:"reason"`
	Reconnect bool   `json:"reconnect"`
	// ReconnectIn, when set, is how many milliseconds the client should
	// wait before it reconnects (a draining node spreads its clients'
	// returns so the other nodes are not stampeded); 0: its own backoff.
	ReconnectIn uint32 `json:"reconnect_in,omitempty"`
}

// PingPush is the server's heartbeat; the client answers {"pong":{}}.
type PingPush struct{}
