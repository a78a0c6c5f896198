package hub

import (
	"context"
	"encoding/json"
	"path"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// Target selects connections for the server API: every connection of a
// user (User), or one connection (Client). Exactly one is set.
type Target struct {
	User   string `json:"user,omitempty"`
	Client string `json:"client,omitempty"`
}

func (t Target) validate() error {
	if (t.User == "") == (t.Client == "") {
		return herald.Errorf(herald.ErrBadRequest, "give exactly one of user (all of a user's connections) and client (one connection)")
	}
	return nil
}

// control is a server API command that every node carries out on its own
// connections; it travels through the broker as JSON.
type control struct {
	// Op is subscribe, unsubscribe or disconnect (for Target); node or
	// node_leave (Node); survey (Survey) or survey_reply (Reply); relay or
	// relay_reply (Relay).
	Op      string `json:"op"`
	Target  Target `json:"target"`
	Channel string `json:"channel,omitempty"`
	Code    uint16 `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`

	// trace and trace_stop (Trace); trace_line (Line, for TraceID, to
	// the node To).
	Trace   *traceSpec `json:"trace,omitempty"`
	TraceID string     `json:"trace_id,omitempty"`
	To      string     `json:"to,omitempty"`
	Line    *TraceLine `json:"line,omitempty"`

	Node   *nodeAnnouncement `json:"node,omitempty"`
	Survey *surveyRequest    `json:"survey,omitempty"`
	Reply  *surveyReply      `json:"reply,omitempty"`
	Relay  *relayMessage     `json:"relay,omitempty"`
}

// SubscribeTarget subscribes the target's connections to a channel, on
// every node; each gets a sub push.
func (h *Hub) SubscribeTarget(ctx context.Context, t Target, channel string) error {
	if _, err := h.cfg.Namespaces.Resolve(channel); err != nil {
		return err
	}
	return h.sendControl(ctx, control{Op: "subscribe", Target: t, Channel: channel})
}

// UnsubscribeTarget ends the target's subscriptions to a channel; each
// connection gets an unsub push.
func (h *Hub) UnsubscribeTarget(ctx context.Context, t Target, channel string) error {
	if err := herald.ValidateChannel(channel, 1<<16); err != nil {
		return err
	}
	return h.sendControl(ctx, control{Op: "unsubscribe", Target: t, Channel: channel})
}

// DisconnectTarget disconnects the target's connections with d: every tab
// and device of a user.
func (h *Hub) DisconnectTarget(ctx context.Context, t Target, d herald.Disconnect) error {
	return h.sendControl(ctx, control{Op: "disconnect", Target: t, Code: d.Code, Reason: d.Reason})
}

func (h *Hub) sendControl(ctx context.Context, c control) error {
	if err := c.Target.validate(); err != nil {
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := h.broker.PublishControl(ctx, data); err != nil {
		return h.brokerError("send "+c.Op+" to", "all nodes", err)
	}
	return nil
}

// HandleControl carries out a control message on this node's connections.
func (h *Hub) HandleControl(data []byte) {
	var c control
	if err := json.Unmarshal(data, &c); err != nil {
		h.log.Error("invalid control message", "err", err)
		return
	}
	switch c.Op {
	case "node", "node_leave":
		h.handleNode(c.Op, c.Node)
		return
	case "survey":
		h.answerSurvey(c.Survey)
		return
	case "survey_reply":
		h.gatherReply(c.Reply)
		return
	case "relay", "relay_reply":
		h.handleRelay(c.Op, c.Relay)
		return
	case "trace":
		h.startTrace(c.Trace)
		return
	case "trace_stop":
		if c.Trace != nil {
			h.stopTrace(c.Trace.ID)
		}
		return
	case "trace_line":
		h.gatherTraceLine(&c)
		return
	}
	sessions := h.reg.byID(c.Target.Client)
	if c.Target.User != "" {
		sessions = h.reg.lookup(&h.reg.users, c.Target.User)
	}
	for _, s := range sessions {
		switch c.Op {
		case "subscribe":
			j, err := s.join(context.Background(), c.Channel, nil, 0)
			if err != nil {
				s.log().Info("server-side subscribe not made", "channel", c.Channel, "err", err)
				continue
			}
			j.finish(s)
		case "unsubscribe":
			if s.part(c.Channel) {
				s.q.push(protocol.EncodePush(&protocol.Push{Channel: c.Channel, Unsub: &protocol.UnsubPush{}}))
			}
		case "disconnect":
			d, ok := herald.DisconnectByCode(c.Code)
			if !ok {
				d = herald.DisconnectForceDisconnect
			}
			if c.Reason != "" {
				d.Reason = c.Reason
			}
			// Saying goodbye writes to the client, which may be slow: do
			// not hold up the broker's delivery of other messages for it.
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				s.Disconnect(d)
			}()
		default:
			h.log.Error("unknown control op", "op", c.Op)
			return
		}
	}
}

// ChannelInfo describes a channel with local subscribers.
type ChannelInfo struct {
	NumClients int `json:"num_clients"`
}

// Channels lists this node's channels (SurveyChannels lists every node's) with local subscribers whose name
// matches pattern (path.Match syntax: * ? [a-z]; "" matches all).
func (h *Hub) Channels(pattern string) (map[string]ChannelInfo, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, herald.Errorf(herald.ErrBadRequest, "invalid pattern %q: use * ? and [a-z] as in path.Match", pattern)
	}
	out := map[string]ChannelInfo{}
	h.reg.eachChannel(func(ch string, n int) {
		if ok, _ := path.Match(pattern, ch); pattern == "" || ok {
			out[ch] = ChannelInfo{NumClients: n}
		}
	})
	return out, nil
}

// NodeInfo describes a node.
type NodeInfo struct {
	ID               string
	Name             string
	Version          string
	Uptime           time.Duration
	NumClients       int
	NumUsers         int
	NumChannels      int
	NumSubscriptions int
}

// NodeJSON is a node as the server API's info and the admin API's nodes
// show it.
type NodeJSON struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	UptimeSeconds    int64  `json:"uptime_seconds"`
	NumClients       int    `json:"num_clients"`
	NumUsers         int    `json:"num_users"`
	NumChannels      int    `json:"num_channels"`
	NumSubscriptions int    `json:"num_subscriptions"`
}

// JSON is n as the APIs show it.
func (n NodeInfo) JSON() NodeJSON {
	return NodeJSON{n.ID, n.Name, n.Version, int64(n.Uptime.Seconds()), n.NumClients, n.NumUsers, n.NumChannels, n.NumSubscriptions}
}

// Info describes this node: its id, version and size.
func (h *Hub) Info() NodeInfo {
	subs := 0
	channels := 0
	h.reg.eachChannel(func(_ string, n int) { channels++; subs += n })
	return NodeInfo{
		ID:               h.id,
		Name:             h.cfg.NodeName,
		Version:          h.cfg.Version,
		Uptime:           time.Since(h.started),
		NumClients:       h.reg.numConns(),
		NumUsers:         h.reg.numKeys(&h.reg.users),
		NumChannels:      channels,
		NumSubscriptions: subs,
	}
}
