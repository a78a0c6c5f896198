package redis_test

// The client comparison behind the choice of rueidis (docs/benchmarks.md):
// the publish script, run through each client against one real
// redis-server, by one publisher and by many at once. Run both
// interleaved, several times:
//
//	go test -run '^$' -bench 'Client' -count 6 ./redis/

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/redis"
)

// publishArgs are Publish's script arguments for a 100-byte publication
// kept in a 100-publication history.
func publishArgs(channel string) []string {
	data := `{"text":"` + strings.Repeat("x", 88) + `"}`
	return []string{data, "100", "60000", "ab12cd34ef56", "", "herald:{" + channel + "}", "publish", "0"}
}

func BenchmarkClient(b *testing.B) {
	s := redistest.Start(b)
	ctx := context.Background()

	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr}, DisableCache: true, ForceSingleClient: true})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	rscript := rueidis.NewLuaScript(redis.PublishLua)

	gc := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	defer gc.Close()
	gscript := goredis.NewScript(redis.PublishLua)

	clients := []struct {
		name string
		run  func(keys, args []string) error
	}{
		{"rueidis", func(keys, args []string) error {
			return rscript.Exec(ctx, rc, keys, args).Error()
		}},
		{"go-redis", func(keys, args []string) error {
			a := make([]any, len(args))
			for i, v := range args {
				a[i] = v
			}
			return gscript.Run(ctx, gc, keys, a...).Err()
		}},
	}
	for _, c := range clients {
		b.Run(c.name+"/serial", func(b *testing.B) {
			keys, args := redis.PublishKeys("herald", "serial-"+c.name), publishArgs("serial-"+c.name)
			for b.Loop() {
				if err := c.run(keys, args); err != nil {
					b.Fatal(err)
				}
			}
		})
		// 64 publishers per CPU, each on its own channel, as API
		// requests to one node would be.
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.SetParallelism(64)
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				ch := c.name + "-" + strconv.FormatInt(n.Add(1), 10)
				keys, args := redis.PublishKeys("herald", ch), publishArgs(ch)
				for pb.Next() {
					if err := c.run(keys, args); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
