// Package hub is the server side of every client connection: a Session per
// connection (its protocol state machine, subscriptions and outbound queue)
// and the Hub that registers sessions and subscriptions in sharded maps and
// fans each publication out to its channel's local subscribers.
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
//  2. subShard.mu (channel → subscribers)
//  3. Session.mu (connection state and its channel set)
//  4. connShard.mu (session registry)
//  5. queue.mu (outbound queue)
//
// A Session is closed from outside any of these locks.
package hub
