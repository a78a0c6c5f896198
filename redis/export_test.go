package redis

// PublishLua is the publish script's source, for the client comparison
// benchmark, which runs it through another client too.
const PublishLua = publishLua

// PublishKeys are the keys Publish passes the script.
func PublishKeys(prefix, channel string) []string {
	k := keys{prefix, channel}
	return []string{k.stream(), k.history()}
}
