package hub

import (
	"context"
	"sort"
)

// ConnectionsResult is the connections of every node that answered and
// the nodes that did not answer in time.
type ConnectionsResult struct {
	Connections []ConnectionInfo `json:"connections"`
	Missing     []string         `json:"missing,omitempty"`
}

// SurveyConnections asks every node (this one included, through the
// broker like the others) for its connections matching q, live and
// recently closed, with their timelines: an operator on any node sees a
// user's connections wherever they landed.
func (h *Hub) SurveyConnections(ctx context.Context, q ConnQuery) (ConnectionsResult, error) {
	replies, missing, err := h.survey(ctx, surveyRequest{Kind: "connections", Conns: &q})
	if err != nil {
		return ConnectionsResult{}, err
	}
	res := ConnectionsResult{Connections: []ConnectionInfo{}, Missing: missing}
	for _, r := range replies {
		res.Connections = append(res.Connections, r.Conns...)
	}
	// Newest first, across nodes.
	sort.SliceStable(res.Connections, func(i, j int) bool {
		return res.Connections[i].Started.After(res.Connections[j].Started)
	})
	return res, nil
}
