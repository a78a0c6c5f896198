package hub

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
)

// Every node announces itself on the broker's control channel every
// NodeInterval, so that each node knows which others are alive and how big
// they are: the API's info lists them and a survey (channels) knows whom to
// wait for. A node that stops announcing (killed, cut off from the broker)
// is forgotten NodeTimeout after its last announcement; one that shuts
// down says so and is forgotten at once.

// nodeAnnouncement is one node's announcement, as it travels.
type nodeAnnouncement struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	UptimeMillis     int64  `json:"uptime_ms"`
	NumClients       int    `json:"num_clients"`
	NumUsers         int    `json:"num_users"`
	NumChannels      int    `json:"num_channels"`
	NumSubscriptions int    `json:"num_subscriptions"`
}

// peer is what this node last heard from another.
type peer struct {
	info NodeInfo
	seen time.Time // when the announcement arrived, on this node's clock
}

// peers holds the other nodes' last announcements by node id.
type peers struct {
	mu sync.Mutex
	m  map[string]peer
}

func (h *Hub) announceLoop(stop <-chan struct{}) {
	t := time.NewTicker(h.cfg.NodeInterval)
	defer t.Stop()
	for {
		h.announce("node")
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// announce sends this node's announcement with op "node", or its goodbye
// with op "node_leave".
func (h *Hub) announce(op string) {
	n := h.Info()
	a := nodeAnnouncement{
		ID: n.ID, Name: n.Name, Version: n.Version, UptimeMillis: n.Uptime.Milliseconds(),
		NumClients: n.NumClients, NumUsers: n.NumUsers, NumChannels: n.NumChannels, NumSubscriptions: n.NumSubscriptions,
	}
	data, err := json.Marshal(control{Op: op, Node: &a})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.NodeInterval)
	defer cancel()
	if err := h.broker.PublishControl(ctx, data); err != nil {
		// The broker logs its own outages; other nodes will forget this
		// one until it announces again.
		h.log.Debug("node announcement not sent", "err", err)
	}
}

// handleNode records another node's announcement, or forgets it.
func (h *Hub) handleNode(op string, a *nodeAnnouncement) {
	if a == nil || a.ID == "" || a.ID == h.id {
		return
	}
	h.peers.mu.Lock()
	defer h.peers.mu.Unlock()
	if op == "node_leave" {
		delete(h.peers.m, a.ID)
		return
	}
	h.peers.m[a.ID] = peer{seen: time.Now(), info: NodeInfo{
		ID: a.ID, Name: a.Name, Version: a.Version, Uptime: time.Duration(a.UptimeMillis) * time.Millisecond,
		NumClients: a.NumClients, NumUsers: a.NumUsers, NumChannels: a.NumChannels, NumSubscriptions: a.NumSubscriptions,
	}}
}

// Nodes lists every live node, this one first with its counts of now, then
// the others by id with the counts of their last announcement (at most
// NodeInterval old) and their uptime advanced to now.
func (h *Hub) Nodes() []NodeInfo {
	now := time.Now()
	out := []NodeInfo{h.Info()}
	h.peers.mu.Lock()
	for id, p := range h.peers.m {
		age := now.Sub(p.seen)
		if age > h.cfg.NodeTimeout {
			delete(h.peers.m, id)
			continue
		}
		n := p.info
		n.Uptime += age
		out = append(out, n)
	}
	h.peers.mu.Unlock()
	slices.SortFunc(out[1:], func(a, b NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// liveNodeIDs are the ids of the nodes Nodes lists.
func (h *Hub) liveNodeIDs() []string {
	nodes := h.Nodes()
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	return ids
}
