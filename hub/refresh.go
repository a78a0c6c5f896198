package hub

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// subExpiry is when a subscription's token expires.
type subExpiry struct {
	channel string
	at      int64 // unix nanos
}

func (s *Session) refresh(id uint32, req *protocol.RefreshRequest) error {
	auth := s.hub.cfg.Auth
	if auth == nil {
		return herald.Errorf(herald.ErrNotAvailable, "this server verifies no tokens, so there is nothing to refresh")
	}
	s.mu.Lock()
	current := Identity{User: s.user, Info: s.connInfo}
	s.mu.Unlock()
	ident, err := auth.Refresh(context.Background(), s.id, current, req.Token)
	if err != nil {
		s.event(refusedEvent("refresh_refused", "", err))
		return err
	}
	if ident.User != current.User {
		return herald.Errorf(herald.ErrUnauthorized, "the new token is for another user: reconnect to change users")
	}
	s.mu.Lock()
	if ident.Info != nil {
		s.connInfo = ident.Info
	}
	s.mu.Unlock()
	var at int64
	if !ident.ExpiresAt.IsZero() {
		at = ident.ExpiresAt.UnixNano()
	}
	s.expiresAt.Store(at)
	s.event(expiryEvent("refresh", ident.ExpiresAt))
	expires, ttlSec := ttl(ident.ExpiresAt, time.Now())
	s.reply(&protocol.Reply{ID: id, Refresh: &protocol.RefreshResult{Expires: expires, TTL: ttlSec}})
	return nil
}

func (s *Session) subRefresh(id uint32, req *protocol.SubRefreshRequest) error {
	auth := s.hub.cfg.Auth
	if auth == nil {
		return herald.Errorf(herald.ErrNotAvailable, "this server verifies no tokens, so there is nothing to refresh")
	}
	s.mu.Lock()
	subscribed := slices.Contains(s.channels, req.Channel)
	user := s.user
	s.mu.Unlock()
	if !subscribed {
		return herald.Errorf(herald.ErrNotSubscribed, "not subscribed to %q", req.Channel)
	}
	if req.Token == "" {
		return herald.Errorf(herald.ErrBadRequest, "sub_refresh needs a token")
	}
	grant, err := auth.Subscribe(context.Background(), SubscribeCheck{Client: s.id, User: user, Channel: req.Channel, Token: req.Token})
	if err != nil {
		return err
	}
	s.setSubExpiry(req.Channel, grant.ExpiresAt)
	expires, ttlSec := ttl(grant.ExpiresAt, time.Now())
	s.reply(&protocol.Reply{ID: id, SubRefresh: &protocol.SubRefreshResult{Expires: expires, TTL: ttlSec}})
	return nil
}

// setSubExpiry records (or, with a zero time, forgets) when a
// subscription's token expires.
func (s *Session) setSubExpiry(channel string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subExp = slices.DeleteFunc(s.subExp, func(e subExpiry) bool { return e.channel == channel })
	if !at.IsZero() {
		s.subExp = append(s.subExp, subExpiry{channel, at.UnixNano()})
	}
}

// checkExpiry closes a connection, or ends subscriptions, whose
// credentials expired more than grace ago. Called by the heartbeat loop.
func (s *Session) checkExpiry(now, grace int64) {
	if at := s.expiresAt.Load(); at != 0 && now-at > grace {
		s.event(Event{Kind: "expired", Text: fmt.Sprintf("credentials expired at %s and were not refreshed within client.expire_grace",
			time.Unix(0, at).UTC().Format(time.RFC3339))})
		s.Disconnect(herald.DisconnectExpired)
		return
	}
	s.mu.Lock()
	if len(s.subExp) == 0 {
		s.mu.Unlock()
		return
	}
	var expired []string
	s.subExp = slices.DeleteFunc(s.subExp, func(e subExpiry) bool {
		if now-e.at > grace {
			expired = append(expired, e.channel)
			return true
		}
		return false
	})
	s.mu.Unlock()
	for _, ch := range expired {
		if s.part(ch) {
			s.q.push(protocol.EncodePush(&protocol.Push{Channel: ch, Unsub: &protocol.UnsubPush{}}))
		}
	}
}
