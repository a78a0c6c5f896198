// Package memory is Herald's embedded broker and presence: publications stay
// inside one process, history and presence live in its memory. It is the
// default; use the Redis broker when more than one node must share channels.
//
// Start with New, which returns the Broker (publications, join/leave and
// control messages, history), and NewPresence, which returns the Presence
// (who is subscribed to a channel). Both pass the shared conformance suite
// in package brokertest.
//
// # Locks
//
// Channels are spread over striped locks, so that work on different
// channels does not contend. A channel's stripe lock is held while the
// broker calls the BrokerHandler for that channel: this is what makes
// delivery order equal offset order. The handler must therefore not call
// back into the broker, nor close it. Lock order: Broker.mu is never held
// with another lock; a stripe's mu or Broker.ctlMu is held while calling
// the handler, so the handler's own locks come after them; the Presence
// stripe locks nest with nothing.
package memory
