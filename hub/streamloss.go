package hub

import (
	"time"

	"github.com/heraldrt/herald"
)

var _ herald.StreamLossHandler = (*Hub)(nil)

// HandleStreamLoss disconnects the channel's local subscribers with
// server_error (reconnect): publications may have been lost on their way
// to this node, and a client that reconnects and subscribes with recover
// gets them from history, or is told recovered: false. Reconnecting is
// how every client already recovers, so none needs to learn anything new.
func (h *Hub) HandleStreamLoss(channel string) {
	sh := h.reg.subShard(channel)
	sh.mu.RLock()
	sessions := make([]*Session, 0, len(sh.channels[channel]))
	for s := range sh.channels[channel] {
		sessions = append(sessions, s)
	}
	if set := sh.taps[channel]; len(set) > 0 {
		h.feed(set, TapLine{Time: time.Now(), Channel: channel, Event: "publications_lost"})
	}
	sh.mu.RUnlock()
	h.log.Warn("publications may be lost; subscribers reconnect to recover", "channel", channel, "subscribers", len(sessions))
	for _, s := range sessions {
		// As for the API's disconnect: saying goodbye writes to the
		// client, which must not hold up the broker.
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			s.Disconnect(herald.DisconnectServerError)
		}()
	}
}
