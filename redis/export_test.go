package redis

// PublishLua is the publish script's source, for the client comparison
// benchmark, which runs it through another client too.
const PublishLua = publishLua

// PublishKeys are the keys Publish passes the script.
func PublishKeys(prefix, channel string) []string {
	k := keys{prefix, channel}
	return []string{k.stream(), k.history()}
}

// Slot is the cluster slot of a key or shard channel.
func Slot(name string) int { return int(slot(name)) }

// ChannelSlot is the cluster slot of a channel's keys and shard channel.
func ChannelSlot(prefix, channel string) int { return Slot(keys{prefix, channel}.pubsub()) }

// ControlSlot is the cluster slot of the control channel.
func ControlSlot(prefix string) int { return Slot(controlChannel(prefix)) }
