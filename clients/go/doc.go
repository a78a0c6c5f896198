// Package client is the Go client of Herald, the real-time messaging
// server. It speaks wire protocol v1 (docs/protocol.md) over one WebSocket,
// reconnects with backoff, and recovers what its subscriptions missed.
//
// Start with New and Connect, then NewSubscription and Subscribe:
//
//	c := client.New("https://herald.example.com", &client.Options{
//		OnConnected: func(e client.ConnectedEvent) { log.Println("connected as", e.ClientID) },
//	})
//	defer c.Close()
//	sub, _ := c.NewSubscription("news", &client.SubscriptionOptions{
//		OnPublication: func(p client.Publication) { log.Printf("%s", p.Data) },
//	})
//	_ = c.Connect(ctx)
//	_ = sub.Subscribe(ctx)
//
// Every callback runs on one event goroutine, in the order the events
// happened, never on the goroutine that reads the socket: a slow callback
// delays the events behind it but not the connection, and a callback may
// call the client's methods. docs/client-spec.md is the behaviour every
// Herald client follows: states, backoff, heartbeats, recovery, and what
// calls do while the connection is down.
//
// For a server that verifies tokens, set Options.GetToken rather than
// Options.Token: the client calls it before every connect and again to
// refresh the credentials before they expire, on the same connection
// (SubscriptionOptions.GetToken does the same for private channels).
//
// Where the server serves a channel's history over plain HTTP (the
// subscribe reply says history_http), a recovering subscription reads what
// it missed from GET /history/{channel} first, through Options.HTTPClient,
// where an HTTP cache or a CDN may answer instead of the server, and the
// subscribe recovers only the rest; the events are the same either way.
//
// A context passed to a method bounds how long that call waits, never the
// state it asked for: Connect and Subscribe that return ctx.Err() keep
// trying in the background until Close or Unsubscribe.
package client
