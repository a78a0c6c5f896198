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
	Pong *PongRequest `json:"pong,omitempty"`
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
	}
	return ""
}

// count is how many request fields are set; a valid command has one.
func (c *Command) count() int {
	n := 0
	for _, set := range [...]bool{c.Connect != nil, c.Subscribe != nil, c.Unsubscribe != nil, c.Publish != nil, c.Ping != nil, c.Pong != nil} {
		if set {
			n++
		}
	}
	return n
}
