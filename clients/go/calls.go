package client

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/heraldrt/herald/protocol"
)

// Calls wait for the connection: made while the client is not Connected,
// they wait until it is (or ctx ends, or Close). A call is sent at most
// once; if its connection ends before the reply, it fails with
// ErrConnectionLost rather than being sent again, because the server may
// have carried it out. They are safe for concurrent use.

// PublishResult is a publication's place in its channel's stream (zero in
// a channel without history).
type PublishResult struct {
	Offset uint64
	Epoch  string
}

// Publish publishes data, a JSON value, to channel, where its namespace
// allows client publish (otherwise an *Error with code 103).
func (c *Client) Publish(ctx context.Context, channel string, data json.RawMessage) (PublishResult, error) {
	if !json.Valid(data) {
		return PublishResult{}, errors.New("herald: publish: data is not valid JSON")
	}
	r, err := c.call(ctx, &protocol.Command{Publish: &protocol.PublishRequest{Channel: channel, Data: data}})
	if err != nil || r.Publish == nil {
		return PublishResult{}, err
	}
	return PublishResult{Offset: r.Publish.Offset, Epoch: r.Publish.Epoch}, nil
}

// HistoryOptions select a page of a channel's history.
type HistoryOptions struct {
	// Since pages after this position (before it with Reverse); nil pages
	// from the oldest publication kept (the newest with Reverse).
	Since *Position
	// Limit is the most publications to return; 0 returns only the
	// channel's position.
	Limit int
	// Reverse pages from newest to oldest.
	Reverse bool
}

// HistoryResult is a page of history and the channel's position.
type HistoryResult struct {
	Publications []Publication
	Offset       uint64
	Epoch        string
}

// History reads a page of the history of a channel the connection is
// subscribed to (otherwise an *Error with code 112).
func (c *Client) History(ctx context.Context, channel string, opts HistoryOptions) (HistoryResult, error) {
	req := &protocol.HistoryRequest{Channel: channel, Limit: int64(opts.Limit), Reverse: opts.Reverse}
	if opts.Since != nil {
		req.Since = &protocol.Position{Offset: opts.Since.Offset, Epoch: opts.Since.Epoch}
	}
	r, err := c.call(ctx, &protocol.Command{History: req})
	if err != nil || r.History == nil {
		return HistoryResult{}, err
	}
	res := HistoryResult{Offset: r.History.Offset, Epoch: r.History.Epoch, Publications: make([]Publication, len(r.History.Publications))}
	for i, p := range r.History.Publications {
		res.Publications[i] = Publication{Channel: channel, Offset: p.Offset, Epoch: or(p.Epoch, res.Epoch), Data: p.Data}
	}
	return res, nil
}

// Presence lists the connections subscribed to channel, by client id.
func (c *Client) Presence(ctx context.Context, channel string) (map[string]ClientInfo, error) {
	r, err := c.call(ctx, &protocol.Command{Presence: &protocol.PresenceRequest{Channel: channel}})
	if err != nil || r.Presence == nil {
		return nil, err
	}
	out := make(map[string]ClientInfo, len(r.Presence.Presence))
	for id, ci := range r.Presence.Presence {
		out[id] = clientInfo(&ci)
	}
	return out, nil
}

// PresenceStats counts a channel's subscribers: connections and distinct
// users (anonymous connections are not users).
type PresenceStats struct {
	NumClients int
	NumUsers   int
}

// PresenceStats counts the subscribers of channel.
func (c *Client) PresenceStats(ctx context.Context, channel string) (PresenceStats, error) {
	r, err := c.call(ctx, &protocol.Command{PresenceStats: &protocol.PresenceStatsRequest{Channel: channel}})
	if err != nil || r.PresenceStats == nil {
		return PresenceStats{}, err
	}
	return PresenceStats{NumClients: r.PresenceStats.NumClients, NumUsers: r.PresenceStats.NumUsers}, nil
}

// RPC calls a method on the server with data (JSON, or nil) and returns
// its answer.
func (c *Client) RPC(ctx context.Context, method string, data json.RawMessage) (json.RawMessage, error) {
	if data != nil && !json.Valid(data) {
		return nil, errors.New("herald: rpc: data is not valid JSON")
	}
	r, err := c.call(ctx, &protocol.Command{RPC: &protocol.RPCRequest{Method: method, Data: data}})
	if err != nil || r.RPC == nil {
		return nil, err
	}
	return r.RPC.Data, nil
}

// Ping does one round trip to the server (a ping command and its pong
// reply), to measure it or to check that the connection is alive.
func (c *Client) Ping(ctx context.Context) error {
	r, err := c.call(ctx, &protocol.Command{Ping: &protocol.PingRequest{}})
	if err == nil && r.Pong == nil {
		return errors.New("herald: ping: the reply carries no pong")
	}
	return err
}

// call sends cmd once the client is connected and returns its reply; an
// error reply becomes an *Error.
func (c *Client) call(ctx context.Context, cmd *protocol.Command) (*protocol.Reply, error) {
	type result struct {
		r   *protocol.Reply
		err error
	}
	for {
		cn, err := c.waitConnected(ctx)
		if err != nil {
			return nil, err
		}
		cmd.ID = c.newID()
		res := make(chan result, 1)
		sent, err := cn.send([]*protocol.Command{cmd}, []replyHandler{func(r *protocol.Reply, err error) { res <- result{r, err} }})
		if err != nil {
			return nil, err
		}
		if !sent {
			continue // the connection ended before the command left: wait for the next
		}
		select {
		case r := <-res:
			if r.err != nil {
				if c.isClosed() {
					return nil, ErrClosed
				}
				return nil, r.err
			}
			if r.r.Error != nil {
				return nil, replyError(r.r.Error)
			}
			return r.r, nil
		case <-ctx.Done():
			cn.forget(cmd.ID)
			return nil, ctx.Err()
		}
	}
}
