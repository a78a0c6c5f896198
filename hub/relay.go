package hub

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/heraldrt/herald"
)

// A relay carries a request to one node through the control channel and
// its answer back: the HTTP fallback transports use it when a client's
// command lands on a node other than the one holding its stream, so that
// no load balancer needs sticky sessions. Every node sees the request;
// only the addressed one answers.

// relayMessage is a request (Op "relay") or its answer ("relay_reply").
type relayMessage struct {
	ID      string          `json:"id"`
	From    string          `json:"from,omitempty"` // the asking node
	To      string          `json:"to"`
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// RelayFunc answers a relayed request on the node it is addressed to.
type RelayFunc = func(payload json.RawMessage) json.RawMessage

// relays holds the handlers by kind and this node's requests awaiting an
// answer by id.
type relays struct {
	mu       sync.Mutex
	handlers map[string]RelayFunc
	waiting  map[string]chan json.RawMessage
}

// HandleRelay makes fn answer the relayed requests of kind addressed to
// this node. fn runs on its own goroutine and may call into the hub.
func (h *Hub) HandleRelay(kind string, fn RelayFunc) {
	h.relays.mu.Lock()
	defer h.relays.mu.Unlock()
	if h.relays.handlers == nil {
		h.relays.handlers = map[string]RelayFunc{}
	}
	h.relays.handlers[kind] = fn
}

// Relay sends payload to the node whose id is node (NodeID) and returns its
// answer. It returns an unavailable error if the broker refuses the message
// or ctx ends first: the node may be gone.
func (h *Hub) Relay(ctx context.Context, node, kind string, payload json.RawMessage) (json.RawMessage, error) {
	req := relayMessage{ID: newClientID(), From: h.id, To: node, Kind: kind, Payload: payload}
	ch := make(chan json.RawMessage, 1)
	h.relays.mu.Lock()
	if h.relays.waiting == nil {
		h.relays.waiting = map[string]chan json.RawMessage{}
	}
	h.relays.waiting[req.ID] = ch
	h.relays.mu.Unlock()
	defer func() {
		h.relays.mu.Lock()
		delete(h.relays.waiting, req.ID)
		h.relays.mu.Unlock()
	}()
	data, err := json.Marshal(control{Op: "relay", Relay: &req})
	if err != nil {
		return nil, err
	}
	if err := h.broker.PublishControl(ctx, data); err != nil {
		return nil, h.brokerError("relay to", node, err)
	}
	select {
	case answer := <-ch:
		return answer, nil
	case <-ctx.Done():
		return nil, herald.Errorf(herald.ErrUnavailable, "node %s did not answer: %v", node, ctx.Err())
	}
}

// NodeID is this node's id, new at every start: what Relay addresses.
func (h *Hub) NodeID() string { return h.id }

// handleRelay answers a request addressed to this node, or delivers an
// answer to this node's waiting Relay.
func (h *Hub) handleRelay(op string, m *relayMessage) {
	if m == nil || m.To != h.id {
		return
	}
	h.relays.mu.Lock()
	defer h.relays.mu.Unlock()
	if op == "relay_reply" {
		if ch, ok := h.relays.waiting[m.ID]; ok {
			ch <- m.Payload // buffered, and only one answer per id
			delete(h.relays.waiting, m.ID)
		}
		return
	}
	fn := h.relays.handlers[m.Kind]
	if fn == nil {
		h.log.Error("relayed request of unknown kind", "kind", m.Kind, "from", m.From)
		return
	}
	// Not on the broker's goroutine: fn may publish through the broker,
	// which may hold the lock its delivery of this message runs under.
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		answer := relayMessage{ID: m.ID, To: m.From, Kind: m.Kind, Payload: fn(m.Payload)}
		data, err := json.Marshal(control{Op: "relay_reply", Relay: &answer})
		if err == nil {
			err = h.broker.PublishControl(context.Background(), data)
		}
		if err != nil {
			h.log.Error("relayed answer not sent", "kind", m.Kind, "to", m.From, "err", err)
		}
	}()
}
