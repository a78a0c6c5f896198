package hub

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

// A connection's timeline answers "why did it drop, and what did it see":
// each session keeps its handshake (made from the session when read) and
// its last TimelineSize-1 other events in a ring, and when it closes the
// hub keeps a snapshot of it (closedTimelines) for TimelineKeepFor, up to
// TimelineKeep of them. Events are rare (connect, subscribes, refreshes,
// the end), never one per message, so recording costs nothing on the
// paths that carry traffic.

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
	if r.items == nil {
		// An idle connection's ring holds two events (connect and
		// subscribe): start there rather than grow 1, 2 and leave the
		// smaller array behind as garbage.
		r.items = make([]T, 0, min(limit, 2))
	}
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
	r  ring[storedEvent]
}

// storedEvent is an Event as a timeline keeps it, 48 bytes rather than
// 80: every idle connection holds a few (issue 14's budget is 4 KB of RSS
// per idle connection, all included).
type storedEvent struct {
	at            int64 // unix nanoseconds
	code          uint32
	kind          uint8 // index in eventKinds; kindOther: the kind leads text
	channel, text string
}

// eventKinds are the kinds the hub records, in the order of their index.
var eventKinds = [...]string{"handshake", "connect", "connect_refused", "client_last_disconnect",
	"subscribe", "subscribe_refused", "refresh", "refresh_refused", "queue_high", "slow",
	"no_pong", "expired", "disconnect"}

// kindOther marks a kind not in eventKinds, kept with its text.
const kindOther = 255

func storeEvent(e Event) storedEvent {
	se := storedEvent{at: e.Time.UnixNano(), code: e.Code, kind: kindOther, channel: e.Channel, text: e.Text}
	for i, k := range eventKinds {
		if k == e.Kind {
			se.kind = uint8(i)
			return se
		}
	}
	se.text = e.Kind + "\x00" + e.Text
	return se
}

func (se storedEvent) event() Event {
	e := Event{Time: time.Unix(0, se.at), Code: se.code, Channel: se.channel, Text: se.text}
	if se.kind == kindOther {
		e.Kind, e.Text, _ = strings.Cut(se.text, "\x00")
	} else {
		e.Kind = eventKinds[se.kind]
	}
	return e
}

func (t *timeline) add(limit int, e Event) {
	se := storeEvent(e)
	t.mu.Lock()
	t.r.add(limit, se)
	t.mu.Unlock()
}

// snapshot returns the events oldest first and how many were dropped.
func (t *timeline) snapshot() ([]Event, int) {
	t.mu.Lock()
	stored, dropped := t.r.oldestFirst(), t.r.dropped
	t.mu.Unlock()
	out := make([]Event, len(stored))
	for i, se := range stored {
		out[i] = se.event()
	}
	return out, dropped
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
	// Connections of one app mostly have the same texts ("anonymous,
	// client herald-js 1.0, credentials never expire"): one copy for all.
	e.Text = s.hub.texts.intern(e.Text)
	// The handshake is not in the ring (describe makes it from the
	// session): the ring keeps the rest, TimelineSize in all.
	s.tl.add(max(1, s.hub.cfg.TimelineSize-1), e)
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
	events, dropped := s.tl.snapshot()
	// The handshake, always first, is made from what the session keeps
	// anyway (when, and its ConnInfo) rather than stored in every ring.
	handshake := Event{Time: c.Started, Kind: "handshake", Text: handshakeText(s.info, h.cfg.NodeName+" ("+h.id+")")}
	c.Events, c.Dropped = append([]Event{handshake}, events...), dropped
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

// textCache interns timeline texts and handshake details, bounded so that texts unique to each
// connection (expiry times, say) cannot grow it for ever: past maxTexts
// entries it starts over.
type textCache struct {
	mu sync.Mutex
	m  map[string]string
}

const maxTexts = 1024

func (c *textCache) intern(s string) string {
	if s == "" || len(s) > 200 {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[s]; ok {
		return v
	}
	if c.m == nil || len(c.m) >= maxTexts {
		c.m = make(map[string]string)
	}
	// A copy: s may be a slice of a larger buffer (a request's headers)
	// that the cache must not keep alive.
	s = strings.Clone(s)
	c.m[s] = s
	return s
}
