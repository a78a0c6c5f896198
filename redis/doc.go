// Package redis is Herald's broker and presence for many nodes sharing
// Redis (any server that speaks the Redis protocol, 7.x or later): pub/sub
// carries publications, join/leave events and control messages between
// nodes, and Redis keeps each channel's history, epoch, idempotency keys
// and presence, so a client may reconnect to any node and recover.
//
// Start with New (a Broker) and NewPresence, both configured by Options:
// one address is a single Redis; several are shards, each channel living on
// the one its name hashes to (see ShardIndex); Options.Cluster uses one
// Redis Cluster, with sharded pub/sub (SSUBSCRIBE/SPUBLISH) and a hash tag
// so that all of a channel's keys and its pub/sub channel share one slot.
//
// Ordering: a publication's offset is assigned, its history written and
// the publication published to pub/sub by one Lua script, in one round
// trip; Redis runs scripts one at a time, so concurrent publishers on
// different nodes get gap-free offsets in one order, the order every node
// receives them in. Each node holds one pub/sub connection per shard (per
// cluster master) for all its channels; after a reconnect it subscribes
// again and reads from history what it missed (see delivery.go).
//
// The package is named after what it talks to; the client it uses is
// rueidis, chosen by measurement (docs/benchmarks.md), so callers import
// both without renaming.
package redis
