package hub

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
)

// A tap streams a channel's publications to an operator (the admin API's
// GET /admin/api/tap) without being a connection: it is not a subscriber
// in the counts or in presence, and nobody sees it join. It keeps this
// node subscribed to the channel on the broker, so it sees every node's
// publications, and it is fed by the fan-out, in offset order, next to
// the local subscribers.

// TapLine is one publication of a tapped channel, or an event: the first
// line's "tap_started" says the tap runs, "publications_lost" that the
// broker may have lost some on their way to this node (its subscribers
// are told to reconnect and recover). Dropped, when not zero,
// says how many publications were left out before this one because the
// reader did not keep up.
type TapLine struct {
	Time    time.Time       `json:"time"`
	Channel string          `json:"channel"`
	Event   string          `json:"event,omitempty"`
	Offset  uint64          `json:"offset,omitempty"`
	Epoch   string          `json:"epoch,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Dropped int64           `json:"dropped,omitempty"`
}

// tap is one reader of a channel.
type tap struct {
	out     chan<- TapLine
	dropped atomic.Int64
}

// taps counts the live taps, so that the fan-out of untapped channels
// pays one atomic load.
type taps struct {
	n atomic.Int32
}

// Tap sends a tap_started line, then the publications of channel, to
// lines (buffered: the start comes first only then) until ctx ends or the
// node drains; it never blocks the fan-out: when lines is full a
// publication is dropped and counted in the next line's Dropped.
func (h *Hub) Tap(ctx context.Context, channel string, lines chan<- TapLine) error {
	if _, err := h.cfg.Namespaces.Resolve(channel); err != nil {
		return err
	}
	t := &tap{out: lines}
	sh := h.reg.subShard(channel)
	sh.mu.Lock()
	if sh.channels[channel] == nil && len(sh.taps[channel]) == 0 {
		if err := h.broker.Subscribe(ctx, channel); err != nil {
			sh.mu.Unlock()
			h.log.Error("broker subscribe failed", "channel", channel, "err", err)
			return herald.Errorf(herald.ErrUnavailable, "tapping %q failed: the broker is not available", channel)
		}
	}
	if sh.taps[channel] == nil {
		sh.taps[channel] = map[*tap]struct{}{}
	}
	sh.taps[channel][t] = struct{}{}
	h.taps.n.Add(1)
	// Queued under the shard's lock, the start comes before any
	// publication (lines has room unless it is unbuffered).
	start := TapLine{Time: time.Now(), Channel: channel, Event: "tap_started"}
	started := false
	select {
	case lines <- start:
		started = true
	default:
	}
	sh.mu.Unlock()
	if !started {
		select {
		case lines <- start:
		case <-ctx.Done():
		}
	}
	// A tap's request never goes idle: end it when the node starts
	// draining, or the HTTP server's shutdown would wait for it.
	drain := time.NewTicker(200 * time.Millisecond)
	defer drain.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-h.stop:
			break wait
		case <-drain.C:
			if h.draining.Load() {
				break wait
			}
		}
	}

	sh.mu.Lock()
	delete(sh.taps[channel], t)
	h.taps.n.Add(-1)
	if len(sh.taps[channel]) == 0 {
		delete(sh.taps, channel)
		if sh.channels[channel] == nil {
			if err := h.broker.Unsubscribe(context.Background(), channel); err != nil {
				h.log.Warn("broker unsubscribe failed", "channel", channel, "err", err)
			}
		}
	}
	sh.mu.Unlock()
	return nil
}

// tapped reports whether a channel with no local subscribers must stay
// subscribed on the broker for its taps. The caller holds sh.mu.
func (sh *subShard) tapped(channel string) bool { return len(sh.taps[channel]) > 0 }

// pubLine is a publication as its taps see it: its data is shared, not
// copied (nothing writes to it once published).
func pubLine(channel string, pub *herald.Publication) TapLine {
	return TapLine{Time: time.Now(), Channel: channel, Offset: pub.Offset, Epoch: pub.Epoch, Data: json.RawMessage(pub.Data)}
}

// feed hands a line to the channel's taps. The caller holds sh.mu (read)
// and, for publications, is the channel's fan-out, so every tap gets them
// in order.
func (h *Hub) feed(set map[*tap]struct{}, line TapLine) {
	for t := range set {
		line.Dropped = t.dropped.Swap(0)
		select {
		case t.out <- line:
		default:
			t.dropped.Add(line.Dropped + 1)
		}
	}
}
