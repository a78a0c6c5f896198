package api

import (
	"context"

	"github.com/heraldrt/herald"
)

type presenceResult struct {
	Presence map[string]herald.ClientInfo `json:"presence"`
}

func (h *Handler) presence(ctx context.Context, body []byte) (any, error) {
	var req channelRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	p, err := h.hub.Presence(ctx, req.Channel)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = map[string]herald.ClientInfo{} // {} rather than null
	}
	return presenceResult{Presence: p}, nil
}

func (h *Handler) presenceStats(ctx context.Context, body []byte) (any, error) {
	var req channelRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	st, err := h.hub.PresenceStats(ctx, req.Channel)
	if err != nil {
		return nil, err
	}
	return st, nil
}
