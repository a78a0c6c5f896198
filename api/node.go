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
	// MissingNodes are the live nodes that did not answer in time: their
	// subscribers are not counted.
	MissingNodes []string `json:"missing_nodes,omitempty"`
}

// channels lists the channels with subscribers on any node, asking every
// node for its own.
func (h *Handler) channels(ctx context.Context, body []byte) (any, error) {
	var req channelsRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	res, err := h.hub.SurveyChannels(ctx, req.Pattern)
	if err != nil {
		return nil, err
	}
	return channelsResult{Channels: res.Channels, MissingNodes: res.Missing}, nil
}

// infoResult is an array of nodes so that a cluster fits the same answer.
type infoResult struct {
	Nodes []hub.NodeJSON `json:"nodes"`
}

func (h *Handler) info(_ context.Context, body []byte) (any, error) {
	var req struct{}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	var res infoResult
	for _, n := range h.hub.Nodes() {
		res.Nodes = append(res.Nodes, n.JSON())
	}
	return res, nil
}
