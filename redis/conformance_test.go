package redis_test

import (
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/brokertest"
	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/redis"
)

// newBroker returns a function making brokers on the given Redis setup;
// brokers of one test share it, as nodes do.
func newBroker(opts redis.Options) func(t *testing.T) herald.Broker {
	return func(t *testing.T) herald.Broker {
		t.Helper()
		b, err := redis.New(opts)
		if err != nil {
			t.Fatalf("redis.New: %v", err)
		}
		return b
	}
}

func TestConformanceSingle(t *testing.T) {
	s := redistest.Start(t)
	brokertest.RunBroker(t, newBroker(redis.Options{Addresses: []string{s.Addr}}))
}

func TestConformanceShards(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	brokertest.RunBroker(t, newBroker(redis.Options{Addresses: []string{a.Addr, b.Addr}}))
}

func newPresence(opts redis.Options) func(t *testing.T) herald.Presence {
	return func(t *testing.T) herald.Presence {
		t.Helper()
		p, err := redis.NewPresence(opts)
		if err != nil {
			t.Fatalf("redis.NewPresence: %v", err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
}

func TestPresenceConformanceSingle(t *testing.T) {
	s := redistest.Start(t)
	brokertest.RunPresence(t, newPresence(redis.Options{Addresses: []string{s.Addr}}))
}

func TestPresenceConformanceShards(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	brokertest.RunPresence(t, newPresence(redis.Options{Addresses: []string{a.Addr, b.Addr}}))
}

// One cluster for both suites: forming one is the slowest part.
func TestConformanceCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	opts := redis.Options{Addresses: c.Addrs(), Cluster: true}
	t.Run("Broker", func(t *testing.T) { brokertest.RunBroker(t, newBroker(opts)) })
	t.Run("Presence", func(t *testing.T) { brokertest.RunPresence(t, newPresence(opts)) })
	t.Run("ConcurrentPublishersOnTwoNodes", func(t *testing.T) { testConcurrentPublishers(t, opts) })
}
