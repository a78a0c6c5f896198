package client

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Version is this library's version, sent in connect by default.
const Version = "0.1.0"

// Options configure a Client. Nil means every default; zero fields take the
// defaults noted. Event callbacks run one at a time on the client's event
// goroutine (see the package doc); nil callbacks are skipped.
type Options struct {
	// Token is the connection token (a JWT from the application backend),
	// sent with every connect.
	Token string
	// GetToken, when set, is called before each connect for a fresh token
	// and replaces Token. An error counts as a failed connection attempt:
	// it goes to OnError (a *TokenError) and the client retries with
	// backoff. It is also called to refresh credentials the server says
	// expire, before they do, and once more when the server answers a
	// connect with 118 token_expired. It runs on a goroutine of its own
	// and must return when ctx ends: Close waits for it.
	//
	// Without GetToken, a Token that expires is not refreshed: the server
	// closes the connection with 4005 when it does, and a connect with a
	// Token that has expired stops the client (Disconnected, 118). With
	// neither, credentials that the application's connect hook made
	// expire are refreshed with an empty refresh (its refresh hook).
	GetToken func(ctx context.Context) (string, error)
	// Data is passed to the application's connect hook. It must be valid
	// JSON (Connect checks).
	Data []byte

	// Name and Version describe the client in the server's logs and
	// metrics. Default "herald-go" and this package's Version.
	Name    string
	Version string

	// MinReconnectDelay and MaxReconnectDelay bound the backoff between
	// connection attempts: attempt n waits a random time in
	// [0, min(Max, Min*2^n)) (full jitter). Default 200ms and 20s. A small
	// Max brings every client of a failed node back at once. When a
	// draining server says when to come back (reconnect_in), the client
	// waits that, up to Max, plus up to Min of jitter.
	MinReconnectDelay time.Duration
	MaxReconnectDelay time.Duration
	// PingGrace is how late the server's ping may be: with no message for
	// the announced ping interval plus PingGrace, the connection counts as
	// dead and the client reconnects. Default 10s. Too small a grace turns
	// a busy network into reconnect storms.
	PingGrace time.Duration
	// ConnectTimeout bounds opening the WebSocket and waiting for the
	// connect reply. Default 10s.
	ConnectTimeout time.Duration
	// MaxMessageSize is the server's websocket.max_message_size: commands
	// queued together are sent in one WebSocket message up to this size.
	// Default 64 KiB, the server's default; more than the server's limit
	// gets the connection closed with 1009.
	MaxMessageSize int

	// Transports are the transports to try, in order, at every connection
	// attempt: TransportWebSocket, TransportSSE, TransportHTTPStream. The
	// next is tried when one fails to open (a proxy that strips Upgrade
	// fails the WebSocket handshake); the one that opened last is tried
	// first next time. Transport says which is in use. Default
	// websocket only.
	Transports []string

	// HTTPClient opens the WebSocket and the HTTP fallback streams: set
	// its Transport for TLS settings, proxies or a custom dialer. Default
	// http.DefaultClient.
	HTTPClient *http.Client
	// HTTPHeader is sent with the WebSocket handshake (cookies, say).
	HTTPHeader http.Header

	// Logger receives the client's debug logs. Default: none.
	Logger *slog.Logger

	// OnConnecting, OnConnected and OnDisconnected report each change of
	// the client's state; OnError reports what went wrong without changing
	// it (a failed dial, a publication gap, an error reply to no command).
	OnConnecting   func(ConnectingEvent)
	OnConnected    func(ConnectedEvent)
	OnDisconnected func(DisconnectedEvent)
	OnError        func(error)
	// OnPublication receives publications of channels that have no
	// Subscription on this client: those the application subscribed the
	// connection to through the server API.
	OnPublication func(Publication)

	// second is how long the server's seconds (ping, ttl) last: one second
	// but in the shared scenario tests, which run them faster.
	second time.Duration
}

func (o *Options) setDefaults() {
	if o.Name == "" {
		o.Name = "herald-go"
	}
	if o.Version == "" {
		o.Version = Version
	}
	if o.MinReconnectDelay <= 0 {
		o.MinReconnectDelay = 200 * time.Millisecond
	}
	if o.MaxReconnectDelay <= 0 {
		o.MaxReconnectDelay = 20 * time.Second
	}
	o.MaxReconnectDelay = max(o.MaxReconnectDelay, o.MinReconnectDelay)
	if o.PingGrace <= 0 {
		o.PingGrace = 10 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 64 << 10
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{TransportWebSocket}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.second <= 0 {
		o.second = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// SubscriptionOptions configure a Subscription. Nil means defaults.
type SubscriptionOptions struct {
	// Since, when set, makes the first subscribe recover from this
	// position (one the application stored), as a resubscribe after a
	// reconnect does.
	Since *Position

	// Token is the subscription token, for a channel whose namespace
	// wants one (subscribe_access "token"), sent with every subscribe.
	Token string
	// GetToken, when set, is called before each subscribe (the first and
	// every one after a reconnect) for a fresh token, and replaces Token.
	// It is also called to refresh the token before it expires, when the
	// server says it does; a token that cannot be refreshed ends the
	// subscription when it expires (OnUnsubscribed with
	// CodeServerUnsubscribed). An error before a subscribe goes to
	// OnError (a *TokenError) and the subscribe is retried with backoff.
	// It runs on a goroutine of its own and must return when ctx ends.
	GetToken func(ctx context.Context, channel string) (string, error)

	OnSubscribing  func(SubscribingEvent)
	OnSubscribed   func(SubscribedEvent)
	OnUnsubscribed func(UnsubscribedEvent)
	// OnPublication receives each publication once, in offset order:
	// recovered ones right after OnSubscribed, then live ones.
	OnPublication func(Publication)
	// OnJoin and OnLeave report connections subscribing to and leaving the
	// channel, where its namespace sets join_leave.
	OnJoin  func(ClientInfo)
	OnLeave func(ClientInfo)
}

// Position is a place in a channel's stream.
type Position struct {
	Offset uint64
	Epoch  string
}
