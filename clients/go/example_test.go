package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/hub"
)

// Connect, subscribe, publish and receive. The examples run against an
// in-process server; a real program passes its server's URL to New.
func Example() {
	srv, err := startServer(hub.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := client.New(srv.URL(), &client.Options{
		OnConnected: func(e client.ConnectedEvent) { fmt.Println("connected") },
		OnError:     func(err error) { log.Println(err) },
	})
	defer c.Close()

	received := make(chan client.Publication, 1)
	sub, err := c.NewSubscription("history:news", &client.SubscriptionOptions{
		OnSubscribed: func(e client.SubscribedEvent) {
			fmt.Println("subscribed, recoverable:", e.Recoverable)
		},
		OnPublication: func(p client.Publication) { received <- p },
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	if err := sub.Subscribe(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Publish(ctx, "history:news", json.RawMessage(`{"title":"Herald 1.0"}`)); err != nil {
		log.Fatal(err)
	}
	p := <-received
	fmt.Printf("%s #%d: %s\n", p.Channel, p.Offset, p.Data)
	// Output:
	// connected
	// subscribed, recoverable: true
	// history:news #1: {"title":"Herald 1.0"}
}

// Read a channel's history page by page.
func ExampleClient_History() {
	srv, err := startServer(hub.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := client.New(srv.URL(), nil)
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	sub, _ := c.NewSubscription("history:log", nil)
	if err := sub.Subscribe(ctx); err != nil { // history needs a subscription
		log.Fatal(err)
	}
	for _, line := range []string{`"a"`, `"b"`, `"c"`} {
		if _, err := c.Publish(ctx, "history:log", json.RawMessage(line)); err != nil {
			log.Fatal(err)
		}
	}
	var since *client.Position
	for {
		page, err := c.History(ctx, "history:log", client.HistoryOptions{Since: since, Limit: 2})
		if err != nil {
			log.Fatal(err)
		}
		for _, p := range page.Publications {
			fmt.Println(p.Offset, string(p.Data))
		}
		if len(page.Publications) == 0 || page.Publications[len(page.Publications)-1].Offset == page.Offset {
			break
		}
		last := page.Publications[len(page.Publications)-1]
		since = &client.Position{Offset: last.Offset, Epoch: page.Epoch}
	}
	// Output:
	// 1 "a"
	// 2 "b"
	// 3 "c"
}

// Call a method on the server.
func ExampleClient_RPC() {
	srv, err := startServer(hub.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := client.New(srv.URL(), nil)
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	out, err := c.RPC(ctx, "echo", json.RawMessage(`{"x":1}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))
	// Output:
	// {"x":1}
}
