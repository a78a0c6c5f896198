package hub

import (
	"context"

	"github.com/heraldrt/herald"
)

// HistoryQuery selects a page of a channel's history.
type HistoryQuery struct {
	// Since pages after this position (before it with Reverse); nil pages
	// from the oldest (newest with Reverse) publication kept.
	Since *herald.StreamPosition
	// Limit is the most publications returned, capped at the namespace's
	// history_size; 0 returns only the position.
	Limit   int
	Reverse bool
}

// History reads a page of a channel's history and its current position.
func (h *Hub) History(ctx context.Context, channel string, q HistoryQuery) (herald.HistoryResult, error) {
	ns, err := h.historyNamespace(channel)
	if err != nil {
		return herald.HistoryResult{}, err
	}
	if q.Limit < 0 {
		return herald.HistoryResult{}, herald.Errorf(herald.ErrBadRequest, "limit must not be negative, got %d", q.Limit)
	}
	res, err := h.broker.History(ctx, channel, herald.HistoryOptions{
		Since:   q.Since,
		Limit:   min(q.Limit, ns.HistorySize),
		Reverse: q.Reverse,
		Stream:  ns.Stream(),
	})
	if err != nil {
		return res, h.brokerError("read the history of", channel, err)
	}
	if q.Since != nil {
		if q.Since.Epoch != "" && q.Since.Epoch != res.Epoch {
			return herald.HistoryResult{}, herald.Errorf(herald.ErrUnrecoverablePosition, "epoch %q is not the current history of %q (epoch %q): it was lost; refetch", q.Since.Epoch, channel, res.Epoch)
		}
		if q.Since.Offset > res.Offset {
			return herald.HistoryResult{}, herald.Errorf(herald.ErrUnrecoverablePosition, "offset %d is beyond the newest publication of %q (offset %d)", q.Since.Offset, channel, res.Offset)
		}
	}
	return res, nil
}

// RemoveHistory drops a channel's stored publications; offsets go on.
func (h *Hub) RemoveHistory(ctx context.Context, channel string) error {
	if _, err := h.historyNamespace(channel); err != nil {
		return err
	}
	if err := h.broker.RemoveHistory(ctx, channel); err != nil {
		return h.brokerError("remove the history of", channel, err)
	}
	return nil
}

func (h *Hub) historyNamespace(channel string) (herald.NamespaceOptions, error) {
	ns, err := h.cfg.Namespaces.Resolve(channel)
	if err != nil {
		return ns, err
	}
	if ns.HistorySize == 0 {
		return ns, herald.Errorf(herald.ErrNotAvailable, "channel %q keeps no history: set history_size and history_ttl in its namespace", channel)
	}
	return ns, nil
}
