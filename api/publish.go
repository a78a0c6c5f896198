package api

import (
	"context"
	"encoding/json"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

type publishRequest struct {
	Channel        string          `json:"channel"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey *string         `json:"idempotency_key"`
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
	pr, err := publishOptions(req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	pos, err := h.hub.Publish(ctx, req.Channel, req.Data, pr)
	if err != nil {
		return nil, err
	}
	return publishResult{Offset: pos.Offset, Epoch: pos.Epoch}, nil
}

type broadcastRequest struct {
	Channels       []string        `json:"channels"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey *string         `json:"idempotency_key"`
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
	pr, err := publishOptions(req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	pos, errs, err := h.hub.Broadcast(ctx, req.Channels, req.Data, pr)
	if err != nil {
		return nil, err
	}
	res := broadcastResult{Responses: make([]broadcastResponse, len(req.Channels))}
	for i, ch := range req.Channels {
		r := &res.Responses[i]
		r.Channel = ch
		if errs[i] != nil {
			r.Error = toErrorJSON(errs[i])
			continue
		}
		r.Offset, r.Epoch = pos[i].Offset, pos[i].Epoch
	}
	return res, nil
}

// maxIdempotencyKey bounds what the broker keeps per key for the window.
const maxIdempotencyKey = 256

// publishOptions checks the optional idempotency key. An empty key is
// refused rather than taken as "none": it is usually an unset variable on
// the caller's side, and its retries would then publish twice.
func publishOptions(key *string) (hub.PublishRequest, error) {
	req := hub.PublishRequest{Source: "api"}
	if key == nil {
		return req, nil
	}
	if len(*key) == 0 || len(*key) > maxIdempotencyKey {
		return req, herald.Errorf(herald.ErrBadRequest, "idempotency_key is %d bytes long: it must be 1 to %d bytes, or left out", len(*key), maxIdempotencyKey)
	}
	req.IdempotencyKey = *key
	return req, nil
}
