package herald

import (
	"context"
	"time"
)

// StreamPosition is a publication's place in its channel's stream. Offset
// increases by one with every publication in a channel that keeps history;
// Epoch changes whenever that history is lost, so a client can tell "I saw
// offset 7 of this history" from "offset 7 of a history that is gone".
type StreamPosition struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// Publication is one message published to a channel.
type Publication struct {
	// Data is the JSON value the publisher sent.
	Data []byte
	StreamPosition
	// Origin is the client id of a client publisher that asked not to get
	// its own publication back; empty otherwise. It is not stored.
	Origin string
}

// PublishOptions tell the broker how to keep a channel's stream.
type PublishOptions struct {
	// HistorySize is how many publications the channel keeps; 0 keeps none
	// and assigns no offset.
	HistorySize int
	// HistoryTTL is how long the history outlives the last publication.
	HistoryTTL time.Duration
	// IdempotencyKey, when set with a positive IdempotencyWindow, makes a
	// publish with the same key to the same channel within the window
	// return the first result instead of publishing again, whatever its
	// data.
	IdempotencyKey    string
	IdempotencyWindow time.Duration
	// Origin is copied to the delivered Publication (see Publication.Origin).
	Origin string
}

// HistoryOptions select publications from a channel's history.
type HistoryOptions struct {
	// Since is the position to page from: forward, publications after
	// Since.Offset; in Reverse, publications before it. Nil pages from the
	// oldest publication (forward) or the newest (Reverse). Since.Epoch is
	// not checked by the broker: the caller compares it with the result's.
	Since *StreamPosition
	// Limit is the most publications to return; 0 (or less) returns none,
	// only the stream's position. Callers cap it; there is no "all".
	Limit int
	// Reverse pages from newest to oldest. With Since.Offset 0 nothing is
	// "before" it: a nil Since pages from the newest.
	Reverse bool
	// Stream creates the channel's stream with these options if it has none,
	// so that the position returned stays valid for later publications.
	Stream PublishOptions
}

// HistoryResult is a page of history and the stream's current position
// (the offset of its newest publication and its epoch).
type HistoryResult struct {
	Publications []Publication
	StreamPosition
}

// BrokerHandler receives what the broker delivers to this node. Every method
// returns without waiting for subscribers: the hub only queues the delivery
// for its fan-out workers, and waits only while a backlog of undelivered
// publications is at its bound (hub/fanout.go). A broker may call
// HandlePublication, HandleJoin and HandleLeave while it holds the
// channel's lock (that is how delivery order follows offset order), so
// they must not call back into the broker for the same channel.
type BrokerHandler interface {
	// HandlePublication is called in offset order per channel.
	HandlePublication(channel string, pub Publication)
	// HandleJoin and HandleLeave tell that a client joined or left a
	// channel with join/leave pushes on.
	HandleJoin(channel string, c ClientInfo)
	HandleLeave(channel string, c ClientInfo)
	// HandleControl delivers a control message (a server API command that
	// every node must act on) published by any node, this one included.
	HandleControl(data []byte)
}

// StreamLossHandler is implemented by a BrokerHandler that can make a
// channel's local subscribers recover. A broker that carries publications
// between nodes calls it when some may not have reached this node and
// history cannot fill the hole (the stream's epoch changed, or it was
// trimmed): the subscribers then either get what they missed, or are told
// recovered: false. It must not block, as the other handler methods.
type StreamLossHandler interface {
	HandleStreamLoss(channel string)
}

// Broker carries publications to every node subscribed to a channel and
// assigns each its place in the channel's stream, where the order is
// decided; history is read from the same stream.
type Broker interface {
	// Start begins delivering to h; it returns once the broker accepts
	// calls.
	Start(h BrokerHandler) error
	// Publish appends data to the channel's stream and delivers it. The
	// broker may keep data without copying it: callers must not change it.
	Publish(ctx context.Context, channel string, data []byte, opts PublishOptions) (StreamPosition, error)
	// PublishJoin and PublishLeave deliver join and leave events.
	PublishJoin(ctx context.Context, channel string, c ClientInfo) error
	PublishLeave(ctx context.Context, channel string, c ClientInfo) error
	// PublishControl delivers a control message to every node.
	PublishControl(ctx context.Context, data []byte) error
	// History reads the channel's stream.
	History(ctx context.Context, channel string, opts HistoryOptions) (HistoryResult, error)
	// RemoveHistory drops the channel's stored publications; offsets and
	// epoch go on.
	RemoveHistory(ctx context.Context, channel string) error
	// Subscribe makes this node receive the channel's publications.
	Subscribe(ctx context.Context, channel string) error
	// Unsubscribe stops them.
	Unsubscribe(ctx context.Context, channel string) error
	// Close stops delivery, releases the broker's resources and waits for
	// its goroutines.
	Close() error
}
