package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/auth"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/internal/redistest"
)

// clusterSecret signs the test users' connection tokens.
const clusterSecret = "deploy-cluster-test-secret-0123456789"

// clusterConfig is every node's config: history to recover from, presence,
// a per-user limit, a short drain and a short presence lifetime so that a
// killed node's clients leave presence within the test.
const clusterConfig = `api_key: k
token:
  hmac_secret: ` + clusterSecret + `
client:
  user_connection_limit: 2
shutdown:
  drain: 1s
  timeout: 10s
redis:
  presence_ttl: 3s
channel:
  history_size: 10000
  history_ttl: 10m
  presence: true
`

// testCluster is three `herald serve` nodes sharing one redis-server,
// behind a load balancer.
type testCluster struct {
	redis   *redistest.Server
	nodes   []*heraldProc
	lb      string   // the load balancer's host:port
	haproxy *haproxy // when the load balancer is HAProxy
}

// startCluster starts Redis, three nodes and the load balancer lb
// ("nginx" or "haproxy") with the shipped config pointing at them.
func startCluster(t *testing.T, lb string) *testCluster {
	t.Helper()
	c := &testCluster{redis: redistest.Start(t)}
	conf := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(conf, []byte(clusterConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for i := range 3 {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args := []string{"--config", conf, "--broker", "redis", "--redis-address", c.redis.Addr}
		c.nodes = append(c.nodes, startProc(t, addr, args, []string{fmt.Sprintf("HERALD_NAME=node%d", i+1)}))
		addrs = append(addrs, addr)
	}
	switch lb {
	case "nginx":
		c.lb = startNginx(t, addrs, "60s")
	case "haproxy":
		h := startHAProxy(t, addrs, nil)
		for i := range addrs {
			h.waitStatus(t, fmt.Sprintf("herald%d", i+1), "UP")
		}
		c.lb, c.haproxy = h.addr, &h
	default:
		t.Fatalf("unknown load balancer %q", lb)
	}
	return c
}

func (c *testCluster) node(i int) string { return "http://" + c.nodes[i].addr }

// token makes a connection token for user.
func token(t *testing.T, user string) string {
	t.Helper()
	tok, err := auth.Mint(clusterSecret, auth.MintClaims{User: user, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// nodeCounts are what info says of each node, by name.
type nodeCounts struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	UptimeSeconds    int64  `json:"uptime_seconds"`
	NumClients       int    `json:"num_clients"`
	NumUsers         int    `json:"num_users"`
	NumChannels      int    `json:"num_channels"`
	NumSubscriptions int    `json:"num_subscriptions"`
}

// waitInfo calls info on base until ok accepts the nodes it lists.
func waitInfo(t *testing.T, base string, what string, ok func(map[string]nodeCounts) bool) map[string]nodeCounts {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body := apiCall(t, base, "info", `{}`)
		var res struct{ Nodes []nodeCounts }
		nodes := map[string]nodeCounts{}
		if status == 200 && json.Unmarshal([]byte(body), &res) == nil {
			for _, n := range res.Nodes {
				nodes[n.Name] = n
			}
			if ok(nodes) {
				return nodes
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("info on %s never showed %s; last: %d %s", base, what, status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// subscriber is one Go client subscribed to a channel, recording what it
// is told.
type subscriber struct {
	c   *client.Client
	sub *client.Subscription

	mu        sync.Mutex
	offsets   []uint64 // every publication delivered, in delivery order
	seen      map[uint64]int
	gaps      int // GapErrors reported
	recovered int // resubscribes that recovered
	lost      int // resubscribes with recovered: false
	connects  int
	closed    *client.DisconnectedEvent
}

// subscribe connects a Go client as user through url and subscribes it to
// channel; it waits until the subscription is made.
func subscribe(t *testing.T, url, user, channel string) *subscriber {
	t.Helper()
	s := &subscriber{seen: map[uint64]int{}}
	s.c = client.New(url, &client.Options{
		Token:             token(t, user),
		MinReconnectDelay: 100 * time.Millisecond,
		MaxReconnectDelay: time.Second,
		OnConnected: func(client.ConnectedEvent) {
			s.mu.Lock()
			s.connects++
			s.mu.Unlock()
		},
		OnDisconnected: func(e client.DisconnectedEvent) {
			s.mu.Lock()
			s.closed = &e
			s.mu.Unlock()
		},
		OnError: func(err error) {
			if _, ok := err.(*client.GapError); ok {
				s.mu.Lock()
				s.gaps++
				s.mu.Unlock()
			}
		},
	})
	t.Cleanup(func() { _ = s.c.Close() })
	if channel == "" {
		if err := s.c.Connect(ctxTimeout(t)); err != nil {
			t.Fatalf("connect %s as %s: %v", url, user, err)
		}
		return s
	}
	sub, err := s.c.NewSubscription(channel, &client.SubscriptionOptions{
		OnSubscribed: func(e client.SubscribedEvent) {
			if !e.WasRecovering {
				return
			}
			s.mu.Lock()
			if e.Recovered {
				s.recovered++
			} else {
				s.lost++
			}
			s.mu.Unlock()
		},
		OnPublication: func(p client.Publication) {
			s.mu.Lock()
			s.offsets = append(s.offsets, p.Offset)
			s.seen[p.Offset]++
			s.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.sub = sub
	ctx := ctxTimeout(t)
	if err := s.c.Connect(ctx); err != nil {
		t.Fatalf("connect %s as %s: %v", url, user, err)
	}
	if err := sub.Subscribe(ctx); err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return s
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitOffset waits until the subscriber has been delivered offset.
func (s *subscriber) waitOffset(t *testing.T, offset uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.offsets)
		last := uint64(0)
		if n > 0 {
			last = s.offsets[n-1]
		}
		s.mu.Unlock()
		if last >= offset {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber got up to offset %d, want %d", last, offset)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counts is what a stream test prints and checks.
type counts struct {
	published, delivered, recovered, lost, gaps, duplicates, missing, disorder int
}

func (c counts) String() string {
	return fmt.Sprintf("published (acknowledged) %d, delivered %d, resubscribes recovered %d, recovered:false %d, gaps reported %d, duplicates %d, acknowledged but missing %d, out of order %d",
		c.published, c.delivered, c.recovered, c.lost, c.gaps, c.duplicates, c.missing, c.disorder)
}

// check compares what each subscriber holds with the acknowledged
// offsets: each must hold every one, once, in increasing order.
func check(subs []*subscriber, acked []uint64) counts {
	c := counts{published: len(acked)}
	for _, s := range subs {
		s.mu.Lock()
		c.delivered += len(s.offsets)
		c.recovered += s.recovered
		c.lost += s.lost
		c.gaps += s.gaps
		for i, o := range s.offsets {
			if i > 0 && o <= s.offsets[i-1] {
				c.disorder++
			}
		}
		for _, n := range s.seen {
			c.duplicates += n - 1
		}
		for _, o := range acked {
			if s.seen[o] == 0 {
				c.missing++
			}
		}
		s.mu.Unlock()
	}
	return c
}

// publisher publishes {"seq":n} to channel, cycling over the bases,
// until stop is closed, and keeps the offsets the API acknowledged.
type publisher struct {
	mu    sync.Mutex
	acked []uint64
	fails int
	why   map[string]int // failures by answer or error, for the log
	done  chan struct{}
}

func startPublisher(t *testing.T, bases []string, channel string, stop <-chan struct{}) *publisher {
	p := &publisher{done: make(chan struct{}), why: map[string]int{}}
	go func() {
		defer close(p.done)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			status, body, err := tryAPI(bases[n%len(bases)], "publish", fmt.Sprintf(`{"channel":%q,"data":{"seq":%d}}`, channel, n))
			var res struct{ Offset uint64 }
			p.mu.Lock()
			if err == nil && status == 200 && json.Unmarshal([]byte(body), &res) == nil {
				p.acked = append(p.acked, res.Offset)
			} else {
				p.fails++ // a node just killed or draining: not acknowledged
				if err != nil {
					body = err.Error()
				}
				p.why[fmt.Sprintf("%d %.80s", status, body)]++
			}
			p.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return p
}

// results waits for the publisher to stop and returns what it had
// acknowledged and how many publishes failed.
func (p *publisher) results() ([]uint64, int) {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked, p.fails
}

// count is how many publications were acknowledged so far.
func (p *publisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// waitPublished waits until the publisher has n more acknowledgements.
func (p *publisher) waitPublished(t *testing.T, n int) {
	t.Helper()
	want := p.count() + n
	deadline := time.Now().Add(60 * time.Second)
	for p.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("only %d publications acknowledged, want %d", p.count(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func maxOffset(acked []uint64) uint64 {
	var m uint64
	for _, o := range acked {
		m = max(m, o)
	}
	return m
}

func nodeNames(nodes map[string]nodeCounts) string {
	var b strings.Builder
	for name, n := range nodes {
		fmt.Fprintf(&b, " %s:%d", name, n.NumClients)
	}
	return b.String()
}
