package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options configure a Broker and a Presence. Zero fields take the defaults
// noted; Addresses is required.
type Options struct {
	// Addresses are host:port of the Redis servers. One: a single Redis.
	// Several: independent Redis servers, shards by channel; every node
	// must list the same addresses in the same order, since the order
	// decides where a channel lives. With Cluster: any of the cluster's
	// nodes, to discover the rest from.
	Addresses []string
	// Username and Password authenticate (AUTH); empty: none.
	Username string
	Password string
	// DB selects the database; not with Cluster, which has only 0.
	// Pub/sub ignores databases: deployments sharing a Redis need
	// different Prefixes, whatever their DB.
	DB int
	// TLS, when not nil, connects over TLS with this configuration.
	TLS *tls.Config
	// Prefix starts every key and pub/sub channel name. Default "herald".
	// It may not contain '{' or '}', which would change the hash tag.
	Prefix string
	// Cluster talks to a Redis Cluster: commands follow the slot map and
	// publications use sharded pub/sub.
	Cluster bool
	// ClusterRefreshInterval is how often a Cluster node re-reads the slot
	// map (one CLUSTER SLOTS) to find slots moved without its noticing;
	// moves are mostly noticed at once, from Redis's sunsubscribe push or
	// a broken connection, so this is a safety net. Default 5s.
	ClusterRefreshInterval time.Duration
	// Timeout bounds each Redis command, and the wait for a connection
	// when Redis is down. Default 5s.
	Timeout time.Duration
	// ReconnectDelay is the first wait before a lost pub/sub connection is
	// dialled again; it doubles up to 2s. Default 100ms.
	ReconnectDelay time.Duration
	// PresenceTTL is how long a presence entry lives unless its node
	// refreshes it, which it does every third of it: the bound on how
	// long a dead node's clients stay listed. Default 30s.
	PresenceTTL time.Duration
	// MaxCatchUp is the most publications a node reads from history to
	// fill one gap in a channel's delivery (after a pub/sub reconnect, or
	// a missed message). A longer gap makes the channel's local
	// subscribers reconnect and recover. Default 1000.
	MaxCatchUp int
	// Logger receives the package's logs. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if len(o.Addresses) == 0 {
		return errors.New("redis: no address: give at least one host:port")
	}
	for _, a := range o.Addresses {
		if !strings.Contains(a, ":") {
			return fmt.Errorf("redis: address %q is not host:port", a)
		}
	}
	if o.Cluster && o.DB != 0 {
		return errors.New("redis: a Redis Cluster has only database 0")
	}
	if o.Prefix == "" {
		o.Prefix = "herald"
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return fmt.Errorf("redis: prefix %q contains { or }", o.Prefix)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.ReconnectDelay <= 0 {
		o.ReconnectDelay = 100 * time.Millisecond
	}
	if o.ClusterRefreshInterval <= 0 {
		o.ClusterRefreshInterval = 5 * time.Second
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = 30 * time.Second
	}
	if o.MaxCatchUp <= 0 {
		o.MaxCatchUp = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}
