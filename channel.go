package herald

import (
	"strings"
	"time"
)

// NamespaceSeparator separates a channel's namespace from its name:
// "chat:lobby" is the channel "lobby" in the namespace "chat". A channel
// without a separator belongs to the default namespace.
const NamespaceSeparator = ':'

// DefaultChannelMaxLength is the default for NamespaceOptions.MaxChannelLength.
const DefaultChannelMaxLength = 255

// NamespaceOptions are the options of every channel in one namespace.
type NamespaceOptions struct {
	// AllowPublish lets clients publish over their connection. Default false:
	// only the application backend publishes, through the server API.
	AllowPublish bool
	// MaxChannelLength caps the channel name's length in bytes, namespace
	// included. Zero means DefaultChannelMaxLength.
	MaxChannelLength int
	// HistorySize is how many recent publications each channel keeps. Zero
	// keeps none; publications then carry no offset.
	HistorySize int
	// HistoryTTL is how long a channel's history outlives its last
	// publication. Required when HistorySize > 0.
	HistoryTTL time.Duration
	// Presence keeps who is subscribed, for the presence and
	// presence_stats commands and API methods.
	Presence bool
	// JoinLeave sends join and leave pushes to the channel's subscribers.
	JoinLeave bool
	// HistoryHTTP serves the channel's history at GET /history/{channel}
	// (package historyhttp), where HTTP caches and CDNs can keep it.
	// Default false: history is read over the connection only.
	HistoryHTTP bool

	// Who may do what in the namespace's channels; empty means the default
	// noted. Whatever these say, a user-limited channel ("dm:chat#42,43")
	// admits only the users it lists.

	// SubscribeAccess: AccessAnyone (default), AccessUser, or AccessToken
	// (a subscription token, or the subscribe hook's approval).
	SubscribeAccess Access
	// PublishAccess, where AllowPublish is set: AccessAnyone (default),
	// AccessUser, AccessSubscriber or AccessHook (the publish hook decides
	// and may rewrite the data).
	PublishAccess Access
	// HistoryAccess and PresenceAccess: AccessSubscriber (default),
	// AccessUser or AccessAnyone.
	HistoryAccess  Access
	PresenceAccess Access
}

// Access says who may do something in a channel.
type Access string

const (
	// AccessAnyone admits every connection, anonymous ones too.
	AccessAnyone Access = "anyone"
	// AccessUser admits authenticated connections (a non-empty user).
	AccessUser Access = "user"
	// AccessSubscriber admits the channel's subscribers.
	AccessSubscriber Access = "subscriber"
	// AccessToken admits a subscriber with a subscription token for the
	// channel, or the subscribe hook's approval.
	AccessToken Access = "token"
	// AccessHook lets the application backend's hook decide.
	AccessHook Access = "hook"
)

// ChannelUsers returns the users a user-limited channel admits: the
// comma-separated list after the last '#' of its name ("dm:chat#42,43"
// admits users 42 and 43; "personal:#42" only 42).
func ChannelUsers(channel string) ([]string, bool) {
	i := strings.LastIndexByte(channel, '#')
	if i < 0 {
		return nil, false
	}
	return strings.Split(channel[i+1:], ","), true
}

// Options for the stream of a channel in this namespace.
func (o NamespaceOptions) Stream() PublishOptions {
	return PublishOptions{HistorySize: o.HistorySize, HistoryTTL: o.HistoryTTL}
}

// Namespaces resolves a channel to its namespace's options.
type Namespaces struct {
	// Default holds the options of channels without a namespace.
	Default NamespaceOptions
	// Named maps a namespace name to its options.
	Named map[string]NamespaceOptions
	// AnyNamespace gives channels in namespaces missing from Named the
	// Default options instead of refusing them (development mode).
	AnyNamespace bool
}

// Resolve validates the channel name and returns its namespace's options.
func (n *Namespaces) Resolve(channel string) (NamespaceOptions, error) {
	ns, ok := NamespaceOf(channel)
	opts := n.Default
	if ok {
		opts, ok = n.Named[ns]
		if !ok && n.AnyNamespace {
			opts, ok = n.Default, true
		}
		if !ok {
			return opts, Errorf(ErrUnknownNamespace, "unknown namespace %q in channel %q: configure it under namespaces", ns, channel)
		}
	}
	max := opts.MaxChannelLength
	if max <= 0 {
		max = DefaultChannelMaxLength
	}
	if err := ValidateChannel(channel, max); err != nil {
		return opts, err
	}
	return opts, nil
}

// NamespaceOf returns the namespace part of a channel and whether it has one.
func NamespaceOf(channel string) (string, bool) {
	i := strings.IndexByte(channel, NamespaceSeparator)
	if i < 0 {
		return "", false
	}
	return channel[:i], true
}

// ValidateChannel checks a channel name: 1..max bytes of letters, digits and
// the punctuation _ - . : @ # , = / + ~ ! (no spaces, quotes or control
// characters, so a channel reads the same in a URL, a log line and JSON).
func ValidateChannel(channel string, max int) error {
	if channel == "" {
		return Errorf(ErrInvalidChannel, "channel name is empty")
	}
	if len(channel) > max {
		return Errorf(ErrInvalidChannel, "channel name is %d bytes long, the limit is %d", len(channel), max)
	}
	for i := 0; i < len(channel); i++ {
		if !channelByte[channel[i]] {
			return Errorf(ErrInvalidChannel, "channel name %q has a character not allowed at byte %d: use letters, digits and _-.:@#,=/+~!", truncate(channel, 64), i)
		}
	}
	if channel[0] == NamespaceSeparator || channel[len(channel)-1] == NamespaceSeparator {
		return Errorf(ErrInvalidChannel, "channel name %q must not start or end with ':'", truncate(channel, 64))
	}
	return nil
}

var channelByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-.:@#,=/+~!" {
		t[c] = true
	}
	return t
}()

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
