package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/heraldrt/herald/redis"
)

// validateBroker checks the broker key and, for redis, its section.
func (c *Config) validateBroker(p *problems) {
	switch c.Broker {
	case "memory":
		return
	case "redis":
	default:
		p.add("broker", "must be memory or redis, got %q", c.Broker)
		return
	}
	r := c.Redis
	if len(r.Address) == 0 {
		p.add("redis.address", "must list at least one host:port with broker: redis")
	}
	for i, a := range r.Address {
		if err := checkHostPort(a); err != nil {
			p.add(fmt.Sprintf("redis.address[%d]", i), "%v", err)
		}
	}
	if r.DB < 0 {
		p.add("redis.db", "must not be negative, got %d", r.DB)
	}
	if r.Cluster && r.DB != 0 {
		p.add("redis.db", "must be 0 with redis.cluster: a Redis Cluster has only database 0, got %d", r.DB)
	}
	if r.Prefix == "" || strings.ContainsAny(r.Prefix, "{} ") {
		p.add("redis.prefix", "must be non-empty without {, } or spaces (they would change where Redis Cluster puts keys), got %q", r.Prefix)
	}
	if (r.TLSCAFile != "" || r.TLSServerName != "") && !r.TLS {
		p.add("redis.tls", "must be true when redis.tls_ca_file or redis.tls_server_name is set")
	}
	if r.Timeout <= 0 {
		p.add("redis.timeout", "must be more than 0, got %s", r.Timeout)
	}
	if r.PresenceTTL < Duration(time.Second) {
		p.add("redis.presence_ttl", "must be at least 1s, got %s", r.PresenceTTL)
	}
	if r.ReconnectDelay <= 0 {
		p.add("redis.reconnect_delay", "must be more than 0, got %s", r.ReconnectDelay)
	}
}

// redisOptions turns the redis section into the package's options.
func redisOptions(c RedisConfig) (redis.Options, error) {
	opts := redis.Options{
		Addresses:      c.Address,
		Username:       c.Username,
		Password:       c.Password,
		DB:             c.DB,
		Prefix:         c.Prefix,
		Cluster:        c.Cluster,
		Timeout:        time.Duration(c.Timeout),
		PresenceTTL:    time.Duration(c.PresenceTTL),
		ReconnectDelay: time.Duration(c.ReconnectDelay),
	}
	if c.TLS {
		opts.TLS = &tls.Config{ServerName: c.TLSServerName, MinVersion: tls.VersionTLS12}
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return opts, fmt.Errorf("redis.tls_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return opts, errors.New("redis.tls_ca_file: no PEM certificate in " + c.TLSCAFile)
			}
			opts.TLS.RootCAs = pool
		}
	}
	return opts, nil
}
