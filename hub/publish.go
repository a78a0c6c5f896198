package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/heraldrt/herald"
)

// PublishRequest says who publishes and how.
type PublishRequest struct {
	// Source is "api" or "client", for metrics.
	Source string
	// IdempotencyKey makes a retry within Config.IdempotencyWindow return
	// the first result instead of publishing twice (server API).
	IdempotencyKey string
	// Origin is a client id that must not get the publication back
	// (client publish with echo: false).
	Origin string
	// Ephemeral publications bypass the channel's history: no offset.
	Ephemeral bool
}

// Publish validates and publishes data to a channel.
func (h *Hub) Publish(ctx context.Context, channel string, data []byte, req PublishRequest) (herald.StreamPosition, error) {
	data, err := compactJSON(data)
	if err != nil {
		return herald.StreamPosition{}, err
	}
	return h.publish(ctx, channel, data, req)
}

// Broadcast publishes the same data to several channels, validating and
// compacting it once. Each channel gets its own position or error, in order.
func (h *Hub) Broadcast(ctx context.Context, channels []string, data []byte, req PublishRequest) ([]herald.StreamPosition, []error, error) {
	data, err := compactJSON(data)
	if err != nil {
		return nil, nil, err
	}
	pos, errs := make([]herald.StreamPosition, len(channels)), make([]error, len(channels))
	for i, ch := range channels {
		pos[i], errs[i] = h.publish(ctx, ch, data, req)
	}
	return pos, errs, nil
}

// publish resolves the channel and hands compact data to the broker.
func (h *Hub) publish(ctx context.Context, channel string, data []byte, req PublishRequest) (herald.StreamPosition, error) {
	ns, err := h.cfg.Namespaces.Resolve(channel)
	if err != nil {
		return herald.StreamPosition{}, err
	}
	opts := ns.Stream()
	if req.Ephemeral {
		opts = herald.PublishOptions{}
	}
	opts.Origin = req.Origin
	if req.IdempotencyKey != "" {
		opts.IdempotencyKey, opts.IdempotencyWindow = req.IdempotencyKey, h.cfg.IdempotencyWindow
	}
	start := time.Now()
	pos, err := h.broker.Publish(ctx, channel, data, opts)
	if err != nil {
		h.log.Error("publish failed", "channel", channel, "err", err)
		return pos, herald.Errorf(herald.ErrUnavailable, "publish to %q failed: the broker is not available", channel)
	}
	h.m.PublishLatency.Observe(time.Since(start).Seconds())
	h.m.Publications.WithLabelValues(req.Source).Inc()
	return pos, nil
}

var errDataMissing = herald.Errorf(herald.ErrBadRequest, "data is missing: publish a JSON value, e.g. {\"text\":\"hi\"}")

// compactJSON checks that data is one JSON value other than null and
// removes its insignificant whitespace: pushes are newline-delimited, so a
// publication must not carry a newline, and smaller is cheaper to fan out.
func compactJSON(data []byte) ([]byte, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, errDataMissing
	}
	if !bytes.ContainsAny(data, " \t\r\n") {
		if !json.Valid(data) {
			return nil, herald.Errorf(herald.ErrBadRequest, "data is not valid JSON")
		}
		return data, nil
	}
	var b bytes.Buffer
	b.Grow(len(data))
	if err := json.Compact(&b, data); err != nil {
		return nil, herald.Errorf(herald.ErrBadRequest, "data is not valid JSON: %v", err)
	}
	if bytes.Equal(b.Bytes(), []byte("null")) {
		return nil, errDataMissing
	}
	return b.Bytes(), nil
}
