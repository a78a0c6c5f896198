package redis

import "hash/fnv"

// keys names what Redis holds for one channel. Every name has the channel
// as its hash tag, {channel}, so that in a cluster the script that
// publishes finds the stream, the history, the idempotency key and the
// shard channel in one slot. (A channel containing '}' has a shorter tag,
// but the same one in every name, which is all that matters.)
type keys struct {
	prefix, channel string
}

func (k keys) tag() string     { return k.prefix + ":{" + k.channel + "}" }
func (k keys) stream() string  { return k.tag() + ":s" } // hash: o (top offset), e (epoch)
func (k keys) history() string { return k.tag() + ":h" } // list of "offset data", oldest first
func (k keys) idem(key string) string {
	return k.tag() + ":i:" + key
}

// pubsub is the channel's pub/sub channel: publications, joins and leaves.
func (k keys) pubsub() string { return k.tag() }

// Presence: entries (client -> ClientInfo JSON), the user of each client,
// the number of clients of each user, and when each entry expires.
func (k keys) presence() string        { return k.tag() + ":p" }
func (k keys) presenceUsers() string   { return k.tag() + ":pu" }
func (k keys) presenceClients() string { return k.tag() + ":pc" }
func (k keys) presenceExpiry() string  { return k.tag() + ":pe" }

// controlChannel carries control messages to every node; with shards it
// lives on the first.
func controlChannel(prefix string) string { return prefix + ":control" }

// ShardIndex is the shard, of n, that holds a channel: FNV-1a (32 bits) of
// the channel name, modulo n. It is fixed so that every node agrees, and it
// changes for most channels when n changes: adding a shard loses those
// channels' history and presence (clients recover with recovered: false).
func ShardIndex(channel string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(channel))
	return int(h.Sum32() % uint32(n))
}
