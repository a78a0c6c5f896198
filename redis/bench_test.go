package redis_test

// Benchmarks of the broker and presence against a real redis-server
// (docs/benchmarks.md):
//
//	go test -run '^$' -bench 'Publish|PresenceStats' -count 3 ./redis/

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/redis"
)

// counter is a BrokerHandler that counts publications.
type counter struct{ pubs atomic.Int64 }

func (c *counter) HandlePublication(string, herald.Publication) { c.pubs.Add(1) }
func (c *counter) HandleJoin(string, herald.ClientInfo)         {}
func (c *counter) HandleLeave(string, herald.ClientInfo)        {}
func (c *counter) HandleControl([]byte)                         {}

// info reads a number from INFO (e.g. "stats", "total_net_input_bytes").
func info(b *testing.B, s *redistest.Server, section, field string) int64 {
	b.Helper()
	for _, line := range strings.Split(s.Do("INFO", section), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// commandCalls reads the calls of one command from INFO commandstats,
// whose lines are cmdstat_NAME:calls=N,...
func commandCalls(b *testing.B, s *redistest.Server, cmd string) int64 {
	b.Helper()
	for _, line := range strings.Split(s.Do("INFO", "commandstats"), "\r\n") {
		if v, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.ParseInt(v[:strings.IndexByte(v, ',')], 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkPublish publishes 100-byte publications with history through
// one broker while 0, 1 or 2 other nodes' brokers are subscribed, and
// reports what each publication costs Redis: commands the nodes sent
// (round trips, as each publish waits for its reply), commands Redis ran,
// and bytes in and out, deliveries to the subscribed nodes included.
func BenchmarkPublish(b *testing.B) {
	s := redistest.Start(b)
	opts := redis.Options{Addresses: []string{s.Addr}}
	pub := startNode(b, opts, &counter{})
	ctx := context.Background()
	data := []byte(`{"text":"` + strings.Repeat("x", 88) + `"}`)
	popts := herald.PublishOptions{HistorySize: 100, HistoryTTL: 60e9}
	for _, subs := range []int{0, 1, 2} {
		ch := fmt.Sprintf("bench-%d", subs)
		for range subs {
			if err := startNode(b, opts, &counter{}).Subscribe(ctx, ch); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("subscribed-nodes=%d", subs), func(b *testing.B) {
			cmds0 := info(b, s, "stats", "total_commands_processed")
			in0, out0 := info(b, s, "stats", "total_net_input_bytes"), info(b, s, "stats", "total_net_output_bytes")
			evals0 := commandCalls(b, s, "evalsha")
			for b.Loop() {
				if _, err := pub.Publish(ctx, ch, data, popts); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N)
			// INFO itself is counted: one command and its bytes, negligible at N.
			b.ReportMetric(float64(commandCalls(b, s, "evalsha")-evals0)/n, "evalsha/op")
			b.ReportMetric(float64(info(b, s, "stats", "total_commands_processed")-cmds0)/n, "redis-cmds/op")
			b.ReportMetric(float64(info(b, s, "stats", "total_net_input_bytes")-in0)/n, "in-B/op")
			b.ReportMetric(float64(info(b, s, "stats", "total_net_output_bytes")-out0)/n, "out-B/op")
		})
	}
}

// BenchmarkPresenceStats counts a channel of 100k members (50k users, two
// connections each); its cost must not grow with the channel.
func BenchmarkPresenceStats(b *testing.B) {
	s := redistest.Start(b)
	p, err := redis.NewPresence(redis.Options{Addresses: []string{s.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for _, members := range []int{1000, 100_000} {
		ch := fmt.Sprintf("stats-%d", members)
		fill(b, p, ch, members)
		b.Run(strconv.Itoa(members), func(b *testing.B) {
			for b.Loop() {
				st, err := p.PresenceStats(ctx, ch)
				if err != nil || st.NumClients != members || st.NumUsers != members/2 {
					b.Fatalf("PresenceStats = %+v, %v; want %d clients of %d users", st, err, members, members/2)
				}
			}
		})
	}
}

// fill adds members entries, 64 at a time in parallel.
func fill(b *testing.B, p *redis.Presence, ch string, members int) {
	b.Helper()
	ctx := context.Background()
	errs := make(chan error, 64)
	next := atomic.Int64{}
	for range 64 {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= members {
					errs <- nil
					return
				}
				c := herald.ClientInfo{Client: "c" + strconv.Itoa(i), User: "u" + strconv.Itoa(i/2)}
				if err := p.AddPresence(ctx, ch, c); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishSetups publishes from many goroutines, each to its own
// channel, through one broker on a single Redis, on two shards and on a
// three-master cluster: what each setup gives one node.
func BenchmarkPublishSetups(b *testing.B) {
	single := redistest.Start(b)
	shardA, shardB := redistest.Start(b), redistest.Start(b)
	cluster := redistest.StartCluster(b, 3)
	setups := []struct {
		name string
		opts redis.Options
	}{
		{"single", redis.Options{Addresses: []string{single.Addr}}},
		{"shards2", redis.Options{Addresses: []string{shardA.Addr, shardB.Addr}}},
		{"cluster3", redis.Options{Addresses: cluster.Addrs(), Cluster: true}},
	}
	data := []byte(`{"text":"` + strings.Repeat("x", 88) + `"}`)
	popts := herald.PublishOptions{HistorySize: 100, HistoryTTL: 60e9}
	for _, s := range setups {
		b.Run(s.name, func(b *testing.B) {
			br := startNode(b, s.opts, &counter{})
			b.SetParallelism(32)
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				ch := "setup-" + strconv.FormatInt(n.Add(1), 10)
				for pb.Next() {
					if _, err := br.Publish(context.Background(), ch, data, popts); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
