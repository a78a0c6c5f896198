package main

import (
	"io"
	"strings"
	"testing"
)

// Broken broker settings are refused with the key path and where the value
// came from.
func TestConfigBrokerErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "unknown broker", args: []string{"--broker", "kafka"},
			want: `flag --broker: broker: must be memory or redis, got "kafka"`},
		{name: "bad address", env: map[string]string{"HERALD_BROKER": "redis", "HERALD_REDIS_ADDRESS": "localhost:6379,nowhere"},
			want: `env HERALD_REDIS_ADDRESS: redis.address[1]: must be host:port`},
		{name: "no address", args: []string{"--broker", "redis", "--redis-address", ""},
			want: "redis.address: must list at least one host:port"},
		{name: "prefix with a brace", args: []string{"--broker", "redis"}, env: map[string]string{"HERALD_REDIS_PREFIX": "a{b"},
			want: "env HERALD_REDIS_PREFIX: redis.prefix: must be non-empty without {, }"},
		{name: "db in a cluster", args: []string{"--broker", "redis"}, env: map[string]string{"HERALD_REDIS_CLUSTER": "true", "HERALD_REDIS_DB": "2"},
			want: "redis.db: must be 0 with redis.cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadServeConfig(tt.args, configEnv(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// The flags and the environment set the broker the issue names them for.
func TestConfigBrokerFlags(t *testing.T) {
	cfg, err := loadServeConfig([]string{"--broker", "redis", "--redis-address", "10.0.0.1:6379,10.0.0.2:6379"}, configEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Broker != "redis" || strings.Join(cfg.Redis.Address, ",") != "10.0.0.1:6379,10.0.0.2:6379" {
		t.Fatalf("got broker %q at %v", cfg.Broker, cfg.Redis.Address)
	}
	cfg, err = loadServeConfig(nil, configEnv(map[string]string{"HERALD_BROKER": "redis", "HERALD_REDIS_ADDRESS": "r:6380"}), io.Discard)
	if err != nil || cfg.Broker != "redis" || len(cfg.Redis.Address) != 1 || cfg.Redis.Address[0] != "r:6380" {
		t.Fatalf("from the environment: %+v %v", cfg.Redis, err)
	}
}
