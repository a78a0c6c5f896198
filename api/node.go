package api

import (
	"context"

	"github.com/heraldrt/herald/hub"
)

type channelsRequest struct {
	// Pattern is a path.Match glob, e.g. "chat:*"; empty lists every
	// channel.
	Pattern string `json:"pattern"`
}

type channelsResult struct {
	Channels map[string]hub.ChannelInfo `json:"channels"`
}

// channels lists the channels with subscribers on this node.
func (h *Handler) channels(_ context.Context, body []byte) (any, error) {
	var req channelsRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	chs, err := h.hub.Channels(req.Pattern)
	if err != nil {
		return nil, err
	}
	if chs == nil {
		chs = map[string]hub.ChannelInfo{} // {} rather than null
	}
	return channelsResult{Channels: chs}, nil
}

// infoResult is an array of nodes so that a cluster fits the same answer.
type infoResult struct {
	Nodes []nodeInfo `json:"nodes"`
}

type nodeInfo struct {
	ID               string `json:"id"`
	Version          string `json:"version"`
	UptimeSeconds    int64  `json:"uptime_seconds"`
	NumClients       int    `json:"num_clients"`
	NumUsers         int    `json:"num_users"`
	NumChannels      int    `json:"num_channels"`
	NumSubscriptions int    `json:"num_subscriptions"`
}

func (h *Handler) info(_ context.Context, body []byte) (any, error) {
	var req struct{}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	n := h.hub.Info()
	return infoResult{Nodes: []nodeInfo{{
		ID:               n.ID,
		Version:          n.Version,
		UptimeSeconds:    int64(n.Uptime.Seconds()),
		NumClients:       n.NumClients,
		NumUsers:         n.NumUsers,
		NumChannels:      n.NumChannels,
		NumSubscriptions: n.NumSubscriptions,
	}}}, nil
}
