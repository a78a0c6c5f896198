package protocol

import "encoding/json"

// Reply answers one command and echoes its id. Either Error or the result
// named like the command is set.
type Reply struct {
	ID    uint32 `json:"id,omitempty"`
	Error *Error `json:"error,omitempty"`

	Connect     *ConnectResult     `json:"connect,omitempty"`
	Subscribe   *SubscribeResult   `json:"subscribe,omitempty"`
	Unsubscribe *UnsubscribeResult `json:"unsubscribe,omitempty"`
	Publish     *PublishResult     `json:"publish,omitempty"`
	Pong        *PongResult        `json:"pong,omitempty"`
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
}

// SubscribeResult confirms a subscription. With history on, Offset and
// Epoch are the channel's current position, from which a client recovers.
type SubscribeResult struct {
	Offset uint64 `json:"offset,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
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

// Push is a server-to-client message that answers no command. Channel is
// set for the pushes that concern one channel.
type Push struct {
	Channel    string          `json:"channel,omitempty"`
	Pub        *PubPush        `json:"pub,omitempty"`
	Disconnect *DisconnectPush `json:"disconnect,omitempty"`
	Ping       *PingPush       `json:"ping,omitempty"`
}

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
}

// PingPush is the server's heartbeat; the client answers {"pong":{}}.
type PingPush struct{}
