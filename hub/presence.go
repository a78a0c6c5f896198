package hub

import (
	"context"
	"encoding/json"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Presence lists a channel's subscribers, by client id.
func (h *Hub) Presence(ctx context.Context, channel string) (map[string]herald.ClientInfo, error) {
	if err := h.presenceOn(channel); err != nil {
		return nil, err
	}
	p, err := h.cfg.Presence.Presence(ctx, channel)
	if err != nil {
		return nil, h.brokerError("read the presence of", channel, err)
	}
	return p, nil
}

// PresenceStats counts a channel's subscribers.
func (h *Hub) PresenceStats(ctx context.Context, channel string) (herald.PresenceStats, error) {
	if err := h.presenceOn(channel); err != nil {
		return herald.PresenceStats{}, err
	}
	st, err := h.cfg.Presence.PresenceStats(ctx, channel)
	if err != nil {
		return st, h.brokerError("count the presence of", channel, err)
	}
	return st, nil
}

func (h *Hub) presenceOn(channel string) error {
	ns, err := h.cfg.Namespaces.Resolve(channel)
	if err != nil {
		return err
	}
	if !ns.Presence {
		return herald.Errorf(herald.ErrNotAvailable, "channel %q has no presence: set presence: true in its namespace", channel)
	}
	if h.cfg.Presence == nil {
		return herald.Errorf(herald.ErrNotAvailable, "presence is on for %q but this server has no presence store configured", channel)
	}
	return nil
}

// HandleJoin tells the channel's local subscribers that a client joined.
func (h *Hub) HandleJoin(channel string, c herald.ClientInfo) {
	h.fanout(channel, func() []byte {
		return protocol.EncodePush(&protocol.Push{Channel: channel, Join: clientInfo(c)})
	})
}

// HandleLeave tells them that a client left.
func (h *Hub) HandleLeave(channel string, c herald.ClientInfo) {
	h.fanout(channel, func() []byte {
		return protocol.EncodePush(&protocol.Push{Channel: channel, Leave: clientInfo(c)})
	})
}

// fanout queues one message for every local subscriber of the channel,
// in order with its publications; it is encoded once if anyone is there.
func (h *Hub) fanout(channel string, encode func() []byte) {
	h.fan.add(h.reg.subIndex(channel), delivery{channel: channel, encode: encode})
}

func clientInfo(c herald.ClientInfo) *protocol.ClientInfo {
	return &protocol.ClientInfo{Client: c.Client, User: c.User, Info: json.RawMessage(c.Info)}
}
