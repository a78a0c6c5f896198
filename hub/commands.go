package hub

import (
	"context"
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
	if err := admitsUser(req.Channel, s.user); err != nil {
		return err
	}
	if !s.allowPublish(time.Now()) {
		return herald.Errorf(herald.ErrTooManyRequests, "more than %g publications per second (client.publish_rate): slow down", s.hub.cfg.PublishRate)
	}
	data := []byte(req.Data)
	switch access := orDefault(ns.PublishAccess, herald.AccessAnyone); access {
	case herald.AccessHook:
		if data, err = s.publishHook(req); err != nil {
			return err
		}
	default:
		if err := s.may(access, req.Channel, "publish"); err != nil {
			return err
		}
	}
	pr := PublishRequest{Source: "client", Ephemeral: req.Ephemeral}
	if req.Echo != nil && !*req.Echo {
		pr.Origin = s.id
	}
	pos, err := s.hub.Publish(context.Background(), req.Channel, data, pr)
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

// publishHook lets the application backend accept, refuse or rewrite a
// client publication.
func (s *Session) publishHook(req *protocol.PublishRequest) ([]byte, error) {
	auth := s.hub.cfg.Auth
	if auth == nil {
		return nil, herald.Errorf(herald.ErrPermissionDenied, "publishing to %q needs the backend's approval, and this server has no publish hook", req.Channel)
	}
	data, err := auth.Publish(context.Background(), PublishCheck{Client: s.id, User: s.user, Channel: req.Channel, Data: req.Data})
	if err != nil {
		return nil, err
	}
	if data != nil {
		return data, nil
	}
	return req.Data, nil
}

// readable checks that s may read a channel's history or presence, by
// the namespace's access level (subscribers by default).
func (s *Session) readable(channel, what string, pick func(herald.NamespaceOptions) herald.Access) error {
	ns, err := s.hub.cfg.Namespaces.Resolve(channel)
	if err != nil {
		return err
	}
	s.mu.Lock()
	user := s.user
	s.mu.Unlock()
	if err := admitsUser(channel, user); err != nil {
		return err
	}
	return s.may(orDefault(pick(ns), herald.AccessSubscriber), channel, "read its "+what)
}

func historyAccess(ns herald.NamespaceOptions) herald.Access  { return ns.HistoryAccess }
func presenceAccess(ns herald.NamespaceOptions) herald.Access { return ns.PresenceAccess }

func (s *Session) history(id uint32, req *protocol.HistoryRequest) error {
	if err := s.readable(req.Channel, "history", historyAccess); err != nil {
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
	if err := s.readable(req.Channel, "presence", presenceAccess); err != nil {
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
	if err := s.readable(req.Channel, "presence", presenceAccess); err != nil {
		return err
	}
	st, err := s.hub.PresenceStats(context.Background(), req.Channel)
	if err != nil {
		return err
	}
	s.reply(&protocol.Reply{ID: id, PresenceStats: &protocol.PresenceStatsResult{NumClients: st.NumClients, NumUsers: st.NumUsers}})
	return nil
}
