package api

import (
	"context"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

// The methods here act on connections wherever they are: all of a user's
// (user) or one (client). The hub refuses a request naming neither or both.

type subscribeRequest struct {
	User    string `json:"user"`
	Client  string `json:"client"`
	Channel string `json:"channel"`
}

func (h *Handler) subscribe(ctx context.Context, body []byte) (any, error) {
	var req subscribeRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := h.hub.SubscribeTarget(ctx, hub.Target{User: req.User, Client: req.Client}, req.Channel); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (h *Handler) unsubscribe(ctx context.Context, body []byte) (any, error) {
	var req subscribeRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := h.hub.UnsubscribeTarget(ctx, hub.Target{User: req.User, Client: req.Client}, req.Channel); err != nil {
		return nil, err
	}
	return empty{}, nil
}

type disconnectRequest struct {
	User   string `json:"user"`
	Client string `json:"client"`
	// Code is a catalog disconnect code in 4000-4999; absent means
	// force_disconnect. An int, so that 70000 gets the same clear message
	// as 4999 rather than a JSON type error.
	Code   *int   `json:"code"`
	Reason string `json:"reason"`
}

// maxReason keeps a custom reason within a WebSocket close frame (123
// bytes), which carries it along with the code.
const maxReason = 100

func (h *Handler) disconnect(ctx context.Context, body []byte) (any, error) {
	var req disconnectRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d := herald.DisconnectForceDisconnect
	if req.Code != nil {
		c := *req.Code
		var ok bool
		if c >= 4000 && c <= 4999 {
			d, ok = herald.DisconnectByCode(uint16(c))
		}
		if !ok {
			return nil, herald.Errorf(herald.ErrBadRequest, "code %d is not a disconnect code in 4000-4999 from codes.json, e.g. 4503 (force_disconnect) or 4006 (force_reconnect)", c)
		}
	}
	if len(req.Reason) > maxReason {
		return nil, herald.Errorf(herald.ErrBadRequest, "reason is %d bytes long, the limit is %d", len(req.Reason), maxReason)
	}
	if req.Reason != "" {
		d.Reason = req.Reason
	}
	if err := h.hub.DisconnectTarget(ctx, hub.Target{User: req.User, Client: req.Client}, d); err != nil {
		return nil, err
	}
	return empty{}, nil
}
