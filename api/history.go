package api

import (
	"context"
	"encoding/json"
	"math"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

type historyRequest struct {
	Channel string `json:"channel"`
	// Since pages after this position (before it with Reverse).
	Since *struct {
		Offset uint64 `json:"offset"`
		Epoch  string `json:"epoch"`
	} `json:"since"`
	// Limit absent asks for everything kept: the hub caps it at the
	// namespace's history_size. 0 asks for the position only.
	Limit   *int `json:"limit"`
	Reverse bool `json:"reverse"`
}

// historyResult's field names are fixed: scripts rely on them, and
// Publications is [] rather than null when the page is empty.
type historyResult struct {
	Publications []historyPublication `json:"publications"`
	Offset       uint64               `json:"offset"`
	Epoch        string               `json:"epoch"`
}

type historyPublication struct {
	Offset uint64          `json:"offset"`
	Data   json.RawMessage `json:"data"`
}

func (h *Handler) history(ctx context.Context, body []byte) (any, error) {
	var req historyRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	q := hub.HistoryQuery{Limit: math.MaxInt32, Reverse: req.Reverse}
	if req.Limit != nil {
		q.Limit = *req.Limit
	}
	if req.Since != nil {
		q.Since = &herald.StreamPosition{Offset: req.Since.Offset, Epoch: req.Since.Epoch}
	}
	hr, err := h.hub.History(ctx, req.Channel, q)
	if err != nil {
		return nil, err
	}
	res := historyResult{Publications: make([]historyPublication, len(hr.Publications)), Offset: hr.Offset, Epoch: hr.Epoch}
	for i, p := range hr.Publications {
		res.Publications[i] = historyPublication{Offset: p.Offset, Data: p.Data}
	}
	return res, nil
}

type channelRequest struct {
	Channel string `json:"channel"`
}

func (h *Handler) historyRemove(ctx context.Context, body []byte) (any, error) {
	var req channelRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := h.hub.RemoveHistory(ctx, req.Channel); err != nil {
		return nil, err
	}
	return empty{}, nil
}
