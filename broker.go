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
}

// PublishOptions tell the broker how to keep a channel's stream.
type PublishOptions struct {
	// HistorySize is how many publications the channel keeps; 0 keeps none
	// and assigns no offset.
	HistorySize int
	// HistoryTTL is how long the history outlives the last publication.
	HistoryTTL time.Duration
}

// BrokerHandler receives the publications of the channels this node is
// subscribed to. HandlePublication is called in offset order per channel and
// must not block: the hub only queues the publication to its subscribers.
type BrokerHandler interface {
	HandlePublication(channel string, pub Publication)
}

// Broker carries publications to every node subscribed to a channel and
// assigns each its place in the channel's stream, where the order is decided.
type Broker interface {
	// Start begins delivering publications to h; it returns once the
	// broker accepts Publish and Subscribe calls.
	Start(h BrokerHandler) error
	// Publish appends data to the channel's stream and delivers it.
	Publish(ctx context.Context, channel string, data []byte, opts PublishOptions) (StreamPosition, error)
	// Subscribe makes this node receive the channel's publications.
	Subscribe(ctx context.Context, channel string) error
	// Unsubscribe stops them.
	Unsubscribe(ctx context.Context, channel string) error
	// Close stops delivery, releases the broker's resources and waits for
	// its goroutines.
	Close() error
}
