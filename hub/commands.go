package hub

import (
	"context"
	"slices"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

func (s *Session) publish(id uint32, req *protocol.PublishRequest) error {
	ns, err := s.hub.cfg.Namespaces.Resolve(req.Channel)
	if err != nil {
		return err
	}
	if !ns.AllowPublish {
		return herald.Errorf(herald.ErrPermissionDenied, "clients may not publish to %q: its namespace does not set allow_publish", req.Channel)
	}
	if !s.allowPublish(time.Now()) {
		return herald.Errorf(herald.ErrTooManyRequests, "more than %g publications per second (client.publish_rate): slow down", s.hub.cfg.PublishRate)
	}
	pr := PublishRequest{Source: "client", Ephemeral: req.Ephemeral}
	if req.Echo != nil && !*req.Echo {
		pr.Origin = s.id
	}
	pos, err := s.hub.Publish(context.Background(), req.Channel, req.Data, pr)
	if err != nil {
		return err
	}
	s.reply(&protocol.Reply{ID: id, Publish: &protocol.PublishResult{Offset: pos.Offset, Epoch: pos.Epoch}})
	return nil
}

// allowPublish takes a token from the connection's bucket: PublishRate
// tokens a second, at most PublishBurst saved up.
func (s *Session) allowPublish(now time.Time) bool {
	cfg := &s.hub.cfg
	if cfg.PublishRate <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refilled.IsZero() {
		s.tokens = float64(cfg.PublishBurst)
	} else {
		s.tokens = min(float64(cfg.PublishBurst), s.tokens+now.Sub(s.refilled).Seconds()*cfg.PublishRate)
	}
	s.refilled = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

// subscribed checks that s may read a channel's history and presence:
// only its subscribers may.
func (s *Session) subscribed(channel, what string) error {
	s.mu.Lock()
	ok := slices.Contains(s.channels, channel)
	s.mu.Unlock()
	if !ok {
		return herald.Errorf(herald.ErrNotSubscribed, "subscribe to %q before reading its %s", channel, what)
	}
	return nil
}

func (s *Session) history(id uint32, req *protocol.HistoryRequest) error {
	if _, err := s.hub.cfg.Namespaces.Resolve(req.Channel); err != nil {
		return err
	}
	if err := s.subscribed(req.Channel, "history"); err != nil {
		return err
	}
	q := HistoryQuery{Limit: int(max(min(req.Limit, 1<<31-1), -1)), Reverse: req.Reverse}
	if req.Since != nil {
		q.Since = &herald.StreamPosition{Offset: req.Since.Offset, Epoch: req.Since.Epoch}
	}
	res, err := s.hub.History(context.Background(), req.Channel, q)
	if err != nil {
		return err
	}
	s.reply(&protocol.Reply{ID: id, History: historyResult(res)})
	return nil
}

func historyResult(res herald.HistoryResult) *protocol.HistoryResult {
	out := &protocol.HistoryResult{Publications: make([]protocol.PubPush, len(res.Publications)), Offset: res.Offset, Epoch: res.Epoch}
	for i, p := range res.Publications {
		out.Publications[i] = protocol.PubPush{Offset: p.Offset, Data: p.Data}
	}
	return out
}

func (s *Session) presence(id uint32, req *protocol.PresenceRequest) error {
	if err := s.subscribed(req.Channel, "presence"); err != nil {
		return err
	}
	entries, err := s.hub.Presence(context.Background(), req.Channel)
	if err != nil {
		return err
	}
	out := make(map[string]protocol.ClientInfo, len(entries))
	for k, c := range entries {
		out[k] = protocol.ClientInfo{Client: c.Client, User: c.User, Info: c.Info}
	}
	s.reply(&protocol.Reply{ID: id, Presence: &protocol.PresenceResult{Presence: out}})
	return nil
}

func (s *Session) presenceStats(id uint32, req *protocol.PresenceStatsRequest) error {
	if err := s.subscribed(req.Channel, "presence"); err != nil {
		return err
	}
	st, err := s.hub.PresenceStats(context.Background(), req.Channel)
	if err != nil {
		return err
	}
	s.reply(&protocol.Reply{ID: id, PresenceStats: &protocol.PresenceStatsResult{NumClients: st.NumClients, NumUsers: st.NumUsers}})
	return nil
}
