package hub

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/heraldrt/herald"
)

var pingPush = []byte(`{"ping":{}}`)

// heartbeat pings connections and cuts off the ones that stopped answering
// or never connected. One loop for the whole hub, rather than a timer per
// connection, keeps idle connections small; pings are spread because each
// connection's schedule starts at its own connect time.
func (h *Hub) heartbeat(stop <-chan struct{}) {
	tick := min(max(h.cfg.PingInterval/25, 50*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.checkSessions(now.UnixNano())
		}
	}
}

func (h *Hub) checkSessions(now int64) {
	interval := int64(h.cfg.PingInterval)
	pongTimeout := int64(h.cfg.PongTimeout)
	connectTimeout := int64(h.cfg.ConnectTimeout)
	grace := int64(h.cfg.ExpireGrace)
	h.reg.eachConn(func(s *Session) {
		s.checkExpiry(now, grace)
		next := s.nextPing.Load()
		if next == 0 { // not connected yet
			if now-s.created > connectTimeout && !s.connected() {
				s.Disconnect(herald.DisconnectConnectTimeout)
			}
			return
		}
		if sent := s.pingSent.Load(); sent != 0 {
			if now-sent > pongTimeout {
				s.event(Event{Kind: "no_pong", Text: fmt.Sprintf("no pong to the ping sent %s ago (client.pong_timeout %s)",
					time.Duration(now-sent).Round(time.Millisecond), time.Duration(pongTimeout))})
				s.Disconnect(herald.DisconnectNoPong)
			}
			return
		}
		if now >= next {
			s.pingSent.Store(now)
			s.nextPing.Store(now + interval)
			s.q.push(pingPush)
		}
	})
}

func (s *Session) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateConnected
}

// jitter returns a random number in [0, 1).
func jitter() float64 { return rand.Float64() }
