package api

import (
	"context"
	"encoding/json"

	"github.com/heraldrt/herald"
)

type publishRequest struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// publishResult gives the publication's place in its channel's stream;
// zero offset and empty epoch when the channel keeps no history.
type publishResult struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

func (h *Handler) publish(ctx context.Context, body []byte) (any, error) {
	var req publishRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	pos, err := h.pub.Publish(ctx, req.Channel, req.Data, "api")
	if err != nil {
		return nil, err
	}
	return publishResult{Offset: pos.Offset, Epoch: pos.Epoch}, nil
}

type broadcastRequest struct {
	Channels []string        `json:"channels"`
	Data     json.RawMessage `json:"data"`
}

// broadcastResult has one response per channel, in request order: a
// publish result or an error, so one bad channel does not hide the others.
type broadcastResult struct {
	Responses []broadcastResponse `json:"responses"`
}

type broadcastResponse struct {
	Channel string     `json:"channel"`
	Offset  uint64     `json:"offset"`
	Epoch   string     `json:"epoch"`
	Error   *errorJSON `json:"error,omitempty"`
}

// maxBroadcast bounds one broadcast's fan-out work.
const maxBroadcast = 10000

func (h *Handler) broadcast(ctx context.Context, body []byte) (any, error) {
	var req broadcastRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if len(req.Channels) == 0 {
		return nil, herald.Errorf(herald.ErrBadRequest, "channels is missing or empty")
	}
	if len(req.Channels) > maxBroadcast {
		return nil, herald.Errorf(herald.ErrBadRequest, "a broadcast may name at most %d channels; split it", maxBroadcast)
	}
	pos, errs, err := h.pub.Broadcast(ctx, req.Channels, req.Data, "api")
	if err != nil {
		return nil, err
	}
	res := broadcastResult{Responses: make([]broadcastResponse, len(req.Channels))}
	for i, ch := range req.Channels {
		r := &res.Responses[i]
		r.Channel = ch
		if errs[i] != nil {
			e := herald.AsError(errs[i])
			r.Error = &errorJSON{Code: uint32(e.Code), Message: e.Error()}
			continue
		}
		r.Offset, r.Epoch = pos[i].Offset, pos[i].Epoch
	}
	return res, nil
}
