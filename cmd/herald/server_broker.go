package main

import (
	"context"
	"log/slog"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/redis"
)

// backend is the broker and presence store the configuration chose.
type backend struct {
	broker   herald.Broker
	presence herald.Presence
	// ready reports whether the broker can carry publications now; nil
	// for one that always can.
	ready func(context.Context) bool
	// close releases what the presence store holds, after the hub closed.
	close func()
}

func newBackend(cfg Config, log *slog.Logger) (backend, error) {
	if cfg.Broker != "redis" {
		return backend{broker: memory.New(), presence: memory.NewPresence(), close: func() {}}, nil
	}
	opts, err := redisOptions(cfg.Redis)
	if err != nil {
		return backend{}, err
	}
	opts.Logger = log
	b, err := redis.New(opts)
	if err != nil {
		return backend{}, err
	}
	p, err := redis.NewPresence(opts)
	if err != nil {
		b.Close()
		return backend{}, err
	}
	return backend{broker: b, presence: p, ready: b.Ready, close: func() { p.Close() }}, nil
}
