package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Every call below returns nil, or an error in which errors.As finds either
// a *herald.Error (a refusal, or herald.ErrUnavailable when the backend
// failed) or a herald.Disconnect (through *DisconnectError: close the
// connection with it). Calling a hook that is off returns
// herald.ErrNotAvailable without a request.

// ConnectRequest is the connect hook's body.
type ConnectRequest struct {
	Client     string `json:"client"`
	Transport  string `json:"transport"`
	RemoteAddr string `json:"remote_addr"`
	// Headers are the client's handshake headers; only those named in
	// Config.ForwardHeaders are sent (see Client.ForwardedHeaders).
	Headers map[string]string `json:"headers,omitempty"`
	// Name and Version are what the client says it is.
	Name    string          `json:"name,omitempty"`
	Version string          `json:"version,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// ConnectResult is who the backend says the connection is.
type ConnectResult struct {
	// User is the user's id; empty for an anonymous connection.
	User string
	// Info is public data about the connection, for presence.
	Info json.RawMessage
	// Channels are channels to subscribe the connection to on the server
	// side; the hub still validates them.
	Channels []string
	// ExpiresAt is when the credentials end (refresh before); zero: never.
	ExpiresAt time.Time
}

// Connect asks the backend who a connecting client is. Forwarded headers
// are also set on the request, so the backend's session middleware sees the
// client's cookie.
func (c *Client) Connect(ctx context.Context, r ConnectRequest) (ConnectResult, error) {
	var res ConnectResult
	if c != nil {
		r.Headers = c.only(r.Headers)
	}
	err := c.call(ctx, ConnectHook, r.Headers, r, func(raw json.RawMessage) (err error) {
		res, err = decodeConnect(raw)
		return err
	})
	if err != nil {
		return ConnectResult{}, err
	}
	return res, nil
}

// RefreshRequest is the refresh hook's body.
type RefreshRequest struct {
	Client string `json:"client"`
	User   string `json:"user"`
}

// RefreshResult extends a connection's credentials.
type RefreshResult struct {
	// ExpiresAt is the new end of the credentials; zero: never.
	ExpiresAt time.Time
	// Info, if not nil, replaces the connection's info.
	Info json.RawMessage
}

// Refresh asks the backend whether a connection whose credentials are
// about to expire may go on.
func (c *Client) Refresh(ctx context.Context, r RefreshRequest) (RefreshResult, error) {
	var res RefreshResult
	err := c.call(ctx, RefreshHook, nil, r, func(raw json.RawMessage) (err error) {
		res, err = decodeRefresh(raw)
		return err
	})
	if err != nil {
		return RefreshResult{}, err
	}
	return res, nil
}

// SubscribeRequest is the subscribe hook's body.
type SubscribeRequest struct {
	Client  string          `json:"client"`
	User    string          `json:"user"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// SubscribeResult allows a subscription.
type SubscribeResult struct {
	// Info, if not nil, is the connection's info in this channel.
	Info json.RawMessage
}

// Subscribe asks the backend whether a client may subscribe to a channel.
func (c *Client) Subscribe(ctx context.Context, r SubscribeRequest) (SubscribeResult, error) {
	var res SubscribeResult
	err := c.call(ctx, SubscribeHook, nil, r, func(raw json.RawMessage) (err error) {
		res, err = decodeSubscribe(raw)
		return err
	})
	if err != nil {
		return SubscribeResult{}, err
	}
	return res, nil
}

// PublishRequest is the publish hook's body.
type PublishRequest struct {
	Client  string          `json:"client"`
	User    string          `json:"user"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// PublishResult allows a publication.
type PublishResult struct {
	// Data, if not nil, is published instead of the client's data.
	Data json.RawMessage
}

// Publish asks the backend whether a client may publish data to a channel,
// and lets it rewrite the data.
func (c *Client) Publish(ctx context.Context, r PublishRequest) (PublishResult, error) {
	var res PublishResult
	err := c.call(ctx, PublishHook, nil, r, func(raw json.RawMessage) error {
		data, err := resultData(raw)
		res.Data = data
		return err
	})
	if err != nil {
		return PublishResult{}, err
	}
	return res, nil
}

// RPCRequest is the rpc hook's body.
type RPCRequest struct {
	Client string          `json:"client"`
	User   string          `json:"user"`
	Method string          `json:"method"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// RPCResult is the reply to the client's rpc command.
type RPCResult struct {
	// Data is the reply's data; nil if the backend sent none.
	Data json.RawMessage
}

// RPC forwards a client's rpc command to the backend.
func (c *Client) RPC(ctx context.Context, r RPCRequest) (RPCResult, error) {
	var res RPCResult
	err := c.call(ctx, RPCHook, nil, r, func(raw json.RawMessage) error {
		data, err := resultData(raw)
		res.Data = data
		return err
	})
	if err != nil {
		return RPCResult{}, err
	}
	return res, nil
}

// The decoders of each hook's result. They check what the backend may
// not send (a negative expire_at, a field of the wrong type) and compact
// the JSON they pass on.

func decodeConnect(raw json.RawMessage) (ConnectResult, error) {
	var w struct {
		User     string          `json:"user"`
		Info     json.RawMessage `json:"info"`
		Channels []string        `json:"channels"`
		ExpireAt int64           `json:"expire_at"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return ConnectResult{}, err
	}
	exp, err := expiry(w.ExpireAt)
	if err != nil {
		return ConnectResult{}, err
	}
	info, err := compact(w.Info)
	if err != nil {
		return ConnectResult{}, err
	}
	return ConnectResult{User: w.User, Info: info, Channels: w.Channels, ExpiresAt: exp}, nil
}

func decodeRefresh(raw json.RawMessage) (RefreshResult, error) {
	var w struct {
		ExpireAt int64           `json:"expire_at"`
		Info     json.RawMessage `json:"info"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return RefreshResult{}, err
	}
	exp, err := expiry(w.ExpireAt)
	if err != nil {
		return RefreshResult{}, err
	}
	info, err := compact(w.Info)
	if err != nil {
		return RefreshResult{}, err
	}
	return RefreshResult{ExpiresAt: exp, Info: info}, nil
}

func decodeSubscribe(raw json.RawMessage) (SubscribeResult, error) {
	var w struct {
		Info json.RawMessage `json:"info"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return SubscribeResult{}, err
	}
	info, err := compact(w.Info)
	if err != nil {
		return SubscribeResult{}, err
	}
	return SubscribeResult{Info: info}, nil
}

// resultData decodes the publish and rpc results.
func resultData(raw json.RawMessage) (json.RawMessage, error) {
	var w struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, err
	}
	return compact(w.Data)
}

// expiry reads expire_at: Unix seconds, 0 for never.
func expiry(sec int64) (time.Time, error) {
	switch {
	case sec < 0:
		return time.Time{}, fmt.Errorf("expire_at %d is negative", sec)
	case sec == 0:
		return time.Time{}, nil
	}
	return time.Unix(sec, 0), nil
}
