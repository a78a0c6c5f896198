package hub

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

// A connection's timeline answers "why did it drop, and what did it see":
// each session keeps its last TimelineSize events in a ring, and when it
// closes the hub keeps a snapshot of it (closedTimelines) for
// TimelineKeepFor, up to TimelineKeep of them. Events are rare (the
// handshake, connect, subscribes, refreshes, the end), never one per
// message, so recording costs nothing on the paths that carry traffic.

// Event is one entry of a connection's timeline.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is handshake, connect, connect_refused, client_last_disconnect,
	// subscribe, subscribe_refused, refresh, queue_high, slow, no_pong,
	// expired or disconnect.
	Kind    string `json:"kind"`
	Code    uint32 `json:"code,omitempty"`
	Channel string `json:"channel,omitempty"`
	Text    string `json:"text,omitempty"`
}

// ring keeps the last limit values added; its zero value is empty.
type ring[T any] struct {
	items   []T // in order until full, then a ring starting at start
	start   int
	dropped int // values pushed out
}

func (r *ring[T]) add(limit int, v T) {
	if len(r.items) < limit {
		r.items = append(r.items, v)
		return
	}
	r.items[r.start] = v
	r.start = (r.start + 1) % len(r.items)
	r.dropped++
}

// oldestFirst returns a copy of the values, oldest first.
func (r *ring[T]) oldestFirst() []T {
	out := make([]T, 0, len(r.items))
	out = append(out, r.items[r.start:]...)
	return append(out, r.items[:r.start]...)
}

// timeline is a connection's bounded ring of events.
type timeline struct {
	mu sync.Mutex
	r  ring[Event]
}

func (t *timeline) add(limit int, e Event) {
	t.mu.Lock()
	t.r.add(limit, e)
	t.mu.Unlock()
}

// snapshot returns the events oldest first and how many were dropped.
func (t *timeline) snapshot() ([]Event, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.r.oldestFirst(), t.r.dropped
}

// ConnectionInfo is a connection as the admin API shows it: who, how it
// came in, where, and its timeline.
type ConnectionInfo struct {
	Client      string    `json:"client,omitempty"`
	User        string    `json:"user,omitempty"`
	Node        string    `json:"node"`
	NodeName    string    `json:"node_name,omitempty"`
	Transport   string    `json:"transport"`
	Subprotocol string    `json:"subprotocol,omitempty"`
	Compression bool      `json:"compression,omitempty"`
	Remote      string    `json:"remote"`
	Forwarded   string    `json:"forwarded,omitempty"`
	Origin      string    `json:"origin,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
	Started     time.Time `json:"started"`
	Closed      time.Time `json:"closed,omitzero"`
	Channels    []string  `json:"channels,omitempty"`
	// QueueHigh is the most bytes its outbound queue ever held (of
	// client.queue_size): how close it came to being cut as slow.
	QueueHigh int     `json:"queue_high"`
	Events    []Event `json:"events"`
	// Dropped counts the oldest events the bounded ring let go of.
	Dropped int `json:"dropped,omitempty"`
}

// ConnQuery selects connections: by user, by client id, or all ("" both).
type ConnQuery struct {
	User   string `json:"user,omitempty"`
	Client string `json:"client,omitempty"`
	// Limit is the most connections one node returns. Default 100.
	Limit int `json:"limit,omitempty"`
}

func (q ConnQuery) matches(client, user string) bool {
	return (q.User == "" || q.User == user) && (q.Client == "" || q.Client == client)
}

// event records e in s's timeline.
func (s *Session) event(e Event) {
	e.Time = time.Now()
	s.tl.add(s.hub.cfg.TimelineSize, e)
	if set := s.traced.Load(); set != nil {
		s.traceEvent(set, e)
	}
}

// handshakeText describes the first entry: how the connection came in.
func handshakeText(info herald.ConnInfo, node string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s from %s", info.Transport, info.RemoteAddr)
	if info.Forwarded != "" {
		fmt.Fprintf(&b, " (client %s per the proxy's forwarded headers)", info.Forwarded)
	}
	if info.Subprotocol != "" {
		fmt.Fprintf(&b, ", subprotocol %s", info.Subprotocol)
	}
	if info.Compression {
		b.WriteString(", permessage-deflate")
	}
	if info.Origin != "" {
		fmt.Fprintf(&b, ", origin %s", info.Origin)
	}
	fmt.Fprintf(&b, ", node %s", node)
	return b.String()
}

// disconnectEvent describes how the connection ended; d is nil when the
// peer went away without a close frame.
func disconnectEvent(d *herald.Disconnect) Event {
	if d == nil {
		return Event{Kind: "disconnect", Text: "connection lost without a close frame (the client sees 1006)"}
	}
	return Event{Kind: "disconnect", Code: uint32(d.Code), Text: d.Reason}
}

// describe is the session's ConnectionInfo as of now.
func (s *Session) describe() ConnectionInfo {
	s.mu.Lock()
	c := ConnectionInfo{Client: s.id, User: s.user, Channels: append([]string(nil), s.channels...), Closed: s.closedAt}
	if c.Client == "" {
		c.Client = s.attempt // refused, or closed before connect
	}
	s.mu.Unlock()
	h := s.hub
	c.Node, c.NodeName = h.id, h.cfg.NodeName
	c.Transport, c.Subprotocol, c.Compression = s.info.Transport, s.info.Subprotocol, s.info.Compression
	c.Remote, c.Forwarded, c.Origin, c.UserAgent = s.info.RemoteAddr, s.info.Forwarded, s.info.Origin, s.info.UserAgent
	c.Started = time.Unix(0, s.created)
	s.q.mu.Lock()
	c.QueueHigh = s.q.high
	s.q.mu.Unlock()
	c.Events, c.Dropped = s.tl.snapshot()
	for i := range c.Events {
		if c.Events[i].Kind == "handshake" && c.Events[i].Text == "" {
			c.Events[i].Text = handshakeText(s.info, h.cfg.NodeName+" ("+h.id+")")
		}
	}
	return c
}

// closedTimelines keeps the last connections that closed on this node,
// bounded in count and age.
type closedTimelines struct {
	mu sync.Mutex
	r  ring[ConnectionInfo]
}

func (k *closedTimelines) add(limit int, c ConnectionInfo) {
	k.mu.Lock()
	k.r.add(limit, c)
	k.mu.Unlock()
}

// find returns the kept connections that match q and closed after since,
// newest first.
func (k *closedTimelines) find(q ConnQuery, since time.Time, limit int) []ConnectionInfo {
	k.mu.Lock()
	all := k.r.oldestFirst()
	k.mu.Unlock()
	var out []ConnectionInfo
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		if c := all[i]; c.Closed.After(since) && q.matches(c.Client, c.User) {
			out = append(out, c)
		}
	}
	return out
}

// Connections lists this node's connections that match q, live ones
// first, then those closed within TimelineKeepFor, each with its timeline.
// SurveyConnections asks every node.
func (h *Hub) Connections(q ConnQuery) []ConnectionInfo {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var out []ConnectionInfo
	var live []*Session
	if q.Client != "" {
		live = h.reg.byID(q.Client)
	} else if q.User != "" {
		live = h.reg.lookup(&h.reg.users, q.User)
	} else {
		h.reg.eachConn(func(s *Session) {
			if len(live) < q.Limit {
				live = append(live, s)
			}
		})
	}
	for _, s := range live {
		if len(out) >= q.Limit {
			break
		}
		if c := s.describe(); q.matches(c.Client, c.User) && c.Closed.IsZero() {
			out = append(out, c)
		}
	}
	if n := q.Limit - len(out); n > 0 {
		out = append(out, h.gone.find(q, time.Now().Add(-h.cfg.TimelineKeepFor), n)...)
	}
	return out
}
