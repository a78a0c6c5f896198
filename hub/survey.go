package hub

import (
	"context"
	"encoding/json"
	"path"
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

// A survey asks every node a question through the control channel and
// gathers the answers, which come back through the same channel: the
// asking node waits until every node it knows to be alive has answered, or
// SurveyTimeout has passed. Each node answers with only its own part, so
// one request costs every node one control message out and one in.

// surveyRequest is the question: "channels" (Pattern), "connections"
// (Conns) or "disconnects" (Minutes).
type surveyRequest struct {
	ID      string     `json:"id"`
	From    string     `json:"from"` // the asking node
	Kind    string     `json:"kind"`
	Pattern string     `json:"pattern,omitempty"`
	Conns   *ConnQuery `json:"conns,omitempty"`
	Minutes int        `json:"minutes,omitempty"`
}

// surveyReply is one node's answer, addressed to the asking node.
type surveyReply struct {
	ID       string                 `json:"id"`
	To       string                 `json:"to"`
	Node     string                 `json:"node"`
	Channels map[string]ChannelInfo `json:"channels,omitempty"`
	Conns    []ConnectionInfo       `json:"conns,omitempty"`
	// Disconnects and Names answer "disconnects".
	Disconnects []DisconnectMinute `json:"disconnects,omitempty"`
	Names       map[string]string  `json:"names,omitempty"`
	Error       string             `json:"error,omitempty"`
}

// survey gathers the replies of one request.
type survey struct {
	mu       sync.Mutex
	want     map[string]bool // live nodes not heard from yet
	answered map[string]bool
	replies  []surveyReply
	done     chan struct{} // closed when want is empty
}

// surveys holds this node's open surveys by id.
type surveys struct {
	mu sync.Mutex
	m  map[string]*survey
}

// ChannelsResult is the channels of every node that answered, each with
// its subscribers on all of them, and the nodes that did not answer in
// time (their channels are missing or undercounted).
type ChannelsResult struct {
	Channels map[string]ChannelInfo
	Missing  []string
}

// SurveyChannels lists the channels with subscribers on any node whose
// name matches pattern (path.Match syntax; "" matches all), with their
// subscribers summed over the nodes.
func (h *Hub) SurveyChannels(ctx context.Context, pattern string) (ChannelsResult, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return ChannelsResult{}, herald.Errorf(herald.ErrBadRequest, "invalid pattern %q: use * ? and [a-z] as in path.Match", pattern)
	}
	replies, missing, err := h.survey(ctx, surveyRequest{Kind: "channels", Pattern: pattern})
	if err != nil {
		return ChannelsResult{}, err
	}
	res := ChannelsResult{Channels: map[string]ChannelInfo{}, Missing: missing}
	for _, r := range replies {
		for ch, info := range r.Channels {
			sum := res.Channels[ch]
			sum.NumClients += info.NumClients
			res.Channels[ch] = sum
		}
	}
	return res, nil
}

// survey sends req to every node and returns the replies that came in
// time and the ids of the live nodes that sent none.
func (h *Hub) survey(ctx context.Context, req surveyRequest) ([]surveyReply, []string, error) {
	req.ID, req.From = newClientID(), h.id
	sv := &survey{want: map[string]bool{}, answered: map[string]bool{}, done: make(chan struct{})}
	for _, id := range h.liveNodeIDs() {
		sv.want[id] = true
	}
	h.surveys.mu.Lock()
	h.surveys.m[req.ID] = sv
	h.surveys.mu.Unlock()
	defer func() {
		h.surveys.mu.Lock()
		delete(h.surveys.m, req.ID)
		h.surveys.mu.Unlock()
	}()

	data, err := json.Marshal(control{Op: "survey", Survey: &req})
	if err != nil {
		return nil, nil, err
	}
	if err := h.broker.PublishControl(ctx, data); err != nil {
		return nil, nil, h.brokerError("ask", "all nodes", err)
	}
	t := time.NewTimer(h.cfg.SurveyTimeout)
	defer t.Stop()
	select {
	case <-sv.done:
	case <-t.C:
	case <-ctx.Done():
		return nil, nil, herald.Errorf(herald.ErrUnavailable, "the nodes did not all answer before the request ended: %v", ctx.Err())
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if !sv.isDone() {
		close(sv.done) // late replies are dropped
	}
	var missing []string
	for id := range sv.want {
		missing = append(missing, id)
	}
	return sv.replies, missing, nil
}

// answerSurvey sends this node's part of the answer. It works on its own
// goroutine: HandleControl must not block (listing a node's channels
// takes a while), and a broker may deliver control messages while holding
// the lock that PublishControl takes.
func (h *Hub) answerSurvey(req *surveyRequest) {
	if req == nil || req.ID == "" || req.From == "" {
		return
	}
	select {
	case <-h.stop: // closing: Close may be waiting for h.wg already
		return
	default:
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		reply := surveyReply{ID: req.ID, To: req.From, Node: h.id}
		switch req.Kind {
		case "channels":
			chs, err := h.Channels(req.Pattern)
			if err != nil {
				reply.Error = err.Error()
			}
			reply.Channels = chs
		case "connections":
			if req.Conns != nil {
				reply.Conns = h.Connections(*req.Conns)
			}
		case "disconnects":
			reply.Disconnects, reply.Names = h.disconnects.last(time.Now(), req.Minutes)
		default:
			reply.Error = "unknown survey kind " + req.Kind
		}
		data, err := json.Marshal(control{Op: "survey_reply", Reply: &reply})
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SurveyTimeout)
		defer cancel()
		if err := h.broker.PublishControl(ctx, data); err != nil {
			h.log.Warn("survey answer not sent", "survey", req.ID, "to", req.From, "err", err)
		}
	}()
}

// gatherReply files a reply addressed to this node under its survey.
func (h *Hub) gatherReply(r *surveyReply) {
	if r == nil || r.To != h.id {
		return
	}
	h.surveys.mu.Lock()
	sv := h.surveys.m[r.ID]
	h.surveys.mu.Unlock()
	if sv == nil {
		return // answered too late
	}
	if r.Error != "" {
		h.log.Warn("a node could not answer a survey", "node", r.Node, "err", r.Error)
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.answered[r.Node] || sv.isDone() {
		return
	}
	// A node that started after the survey began is welcome too.
	sv.answered[r.Node] = true
	sv.replies = append(sv.replies, *r)
	delete(sv.want, r.Node)
	if len(sv.want) == 0 {
		close(sv.done)
	}
}

func (sv *survey) isDone() bool {
	select {
	case <-sv.done:
		return true
	default:
		return false
	}
}
