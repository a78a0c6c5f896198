package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	client "github.com/heraldrt/herald/clients/go"
)

// stormFleet is the storm's clients and their counts. Each client's
// callbacks run one at a time on that client's event goroutine, so its
// own flags need no lock; the counts are shared.
type stormFleet struct {
	connected  atomic.Int64
	subscribed atomic.Int64
	gaveUp     atomic.Int64
	refused    atomic.Int64 // upgrades refused with 503 (admission control)
	dialErrors atomic.Int64
	closing    atomic.Bool

	mu      sync.Mutex
	clients []*client.Client
}

// start opens one client subscribed to channel; it returns at once and the
// client connects in the background, as an application's would.
func (f *stormFleet) start(cfg stormConfig, channel string) {
	var connected, subscribed bool
	c := client.New(cfg.wsURL, &client.Options{
		Token:             cfg.token,
		Name:              "herald-bench-storm",
		MinReconnectDelay: cfg.minDelay,
		MaxReconnectDelay: cfg.maxDelay,
		OnConnected: func(client.ConnectedEvent) {
			if !connected {
				connected = true
				f.connected.Add(1)
			}
		},
		OnConnecting: func(client.ConnectingEvent) {
			if connected {
				connected = false
				f.connected.Add(-1)
			}
		},
		OnDisconnected: func(client.DisconnectedEvent) {
			if connected {
				connected = false
				f.connected.Add(-1)
			}
			if !f.closing.Load() {
				f.gaveUp.Add(1)
			}
		},
		OnError: func(err error) {
			if strings.Contains(err.Error(), "HTTP 503") {
				f.refused.Add(1)
			} else if strings.Contains(err.Error(), "dial") {
				f.dialErrors.Add(1)
			}
		},
	})
	lost := func() {
		if subscribed {
			subscribed = false
			f.subscribed.Add(-1)
		}
	}
	sub, err := c.NewSubscription(channel, &client.SubscriptionOptions{
		OnSubscribed: func(client.SubscribedEvent) {
			if !subscribed {
				subscribed = true
				f.subscribed.Add(1)
			}
		},
		OnSubscribing: func(client.SubscribingEvent) { lost() },
		OnUnsubscribed: func(client.UnsubscribedEvent) {
			lost()
			if !f.closing.Load() {
				f.gaveUp.Add(1)
			}
		},
	})
	if err != nil {
		f.gaveUp.Add(1)
		return
	}
	f.mu.Lock()
	f.clients = append(f.clients, c)
	f.mu.Unlock()
	// Connect and Subscribe keep trying after their context ends; the
	// context only stops this goroutine waiting for them.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
		defer cancel()
		_ = c.Connect(ctx)
		_ = sub.Subscribe(ctx)
	}()
}

// closeAll closes every client, a few at a time.
func (f *stormFleet) closeAll() {
	f.closing.Store(true)
	f.mu.Lock()
	clients := f.clients
	f.mu.Unlock()
	var wg sync.WaitGroup
	work := make(chan *client.Client)
	for range 64 {
		wg.Go(func() {
			for c := range work {
				_ = c.Close()
			}
		})
	}
	for _, c := range clients {
		work <- c
	}
	close(work)
	wg.Wait()
}

// waitUntil polls cond every few milliseconds until it holds (true) or d
// passes or ctx ends (false).
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
