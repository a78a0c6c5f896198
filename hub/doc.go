// Package hub is the server side of every client connection: a Session per
// connection (its protocol state machine, subscriptions and outbound queue)
// and the Hub that registers sessions and subscriptions in sharded maps and
// fans each publication out to its channel's local subscribers.
//
// No goroutine is started per publication or per delivery. The broker's
// HandlePublication appends to its channel's shard sequence and returns, so
// a publish answers once the publication has its offset (fanout.go); a few
// fan-out workers, one per core, queue each publication to every local
// subscriber, one shard sequence at a time, in offset order; a bounded set
// of writers drains the queues of the connections that have something to
// send, each into one Transport.Write (writers.go).
//
// Start with New and Hub.Accept. A transport (websocket/) feeds a Session
// the frames it reads; the Session answers through the herald.Transport.
//
// What the server API does across nodes travels on the broker's control
// channel (control.go): commands on targets, every node's announcement of
// itself (nodes.go), surveys that every node answers (survey.go); the
// per-user limit counts through Presence (userlimit.go). The peers and
// survey locks are leaves: nothing else is taken while they are held.
//
// Lock order, outermost first (a lock may be taken while holding one above
// it, never below):
//
//  1. broker stripe lock (memory broker, around HandlePublication)
//  2. sequence.mu (a shard's deliveries waiting for the fan-out)
//  3. subShard.mu (channel → subscribers)
//  4. subscription.mu (a subscriber's held publications while it recovers)
//  5. Session.mu (connection state and its channel set)
//  6. connShard.mu (session registry)
//  7. queue.mu (outbound queue)
//  8. runq.mu (work waiting for a writer or a fan-out worker)
//
// A Session is closed from outside any of these locks.
package hub
