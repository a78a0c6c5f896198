package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/rueidis"
)

// clusterRouter keeps one sharded pub/sub connection per cluster master,
// carrying the channels whose slots that master serves: SSUBSCRIBE must go
// to the slot's node, and SPUBLISH reaches only that node's subscribers,
// so a publication travels to one master, not the whole cluster.
//
// The slot map is read at Start and followed while the node runs
// (topology.go): again when a pub/sub connection breaks, when Redis
// drops a subscription because its slot migrated (an sunsubscribe push),
// when SSUBSCRIBE answers MOVED, and every ClusterRefreshInterval as a
// safety net. A channel whose slot moved is subscribed at its new master
// and caught up from history, so a reshard or a failover costs its
// subscribers latency, not publications. Commands (the publish and
// history scripts) follow MOVED and ASK in rueidis itself.
type clusterRouter struct {
	b      *Broker
	client rueidis.Client
	kick   chan struct{}
	// stripes serialize the subscribe, unsubscribe and move of the
	// channels of one stripe; taken before mu.
	stripes [64]sync.Mutex

	mu      sync.Mutex
	slots   [clusterSlots]string   // slot -> master address
	subs    map[string]*subscriber // by master address
	owner   map[string]string      // herald channel -> master its SSUBSCRIBE is on
	control string                 // master carrying the control channel
	// controlLost: Redis dropped the control channel, or subscribing it
	// at its new master failed; the next refresh subscribes it again.
	controlLost bool
	retry       map[string]struct{} // channels Redis dropped, to subscribe again
	// own are clients of masters the cluster client does not know (a
	// replica promoted by a failover, until rueidis refreshes its map on
	// a MOVED of its own), closed with the broker.
	own map[string]rueidis.Client
}

const clusterSlots = 16384

func (b *Broker) newClusterRouter(c rueidis.Client) (router, error) {
	r := &clusterRouter{b: b, client: c, kick: make(chan struct{}, 1),
		subs: map[string]*subscriber{}, owner: map[string]string{}, retry: map[string]struct{}{},
		own: map[string]rueidis.Client{}}
	ctx, cancel := b.ctx(context.Background())
	defer cancel()
	if err := r.readSlots(ctx); err != nil {
		return nil, err
	}
	// The control channel's master is subscribed from the start, so that
	// control messages reach this node before any channel is subscribed.
	_, addr, err := r.subscriberFor(controlChannel(b.opts.Prefix), true)
	if err != nil {
		return nil, err
	}
	r.control = addr
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		r.follow(b.done)
	}()
	return r, nil
}

// readSlots reads CLUSTER SLOTS: {start, end, {ip, port, id}, replicas...}.
func (r *clusterRouter) readSlots(ctx context.Context) error {
	ranges, err := r.client.Do(ctx, r.client.B().ClusterSlots().Build()).ToArray()
	if err != nil {
		return fmt.Errorf("redis: read the cluster's slots: %w", err)
	}
	var slots [clusterSlots]string
	for _, rg := range ranges {
		v, err := rg.ToArray()
		if err != nil || len(v) < 3 {
			return fmt.Errorf("redis: unexpected CLUSTER SLOTS entry: %v", err)
		}
		start, err1 := v[0].AsInt64()
		end, err2 := v[1].AsInt64()
		master, err3 := v[2].ToArray()
		if err1 != nil || err2 != nil || err3 != nil || len(master) < 2 || start < 0 || end >= clusterSlots {
			return fmt.Errorf("redis: unexpected CLUSTER SLOTS entry")
		}
		ip, _ := master[0].ToString()
		port, _ := master[1].AsInt64()
		addr := net.JoinHostPort(ip, strconv.FormatInt(port, 10))
		for s := start; s <= end; s++ {
			slots[s] = addr
		}
	}
	r.mu.Lock()
	r.slots = slots
	r.mu.Unlock()
	return nil
}

func (r *clusterRouter) stripe(name string) *sync.Mutex {
	return &r.stripes[slot(name)%uint16(len(r.stripes))]
}

// subscriberFor returns the subscriber of the master serving name's slot,
// and its address, making it on first use.
func (r *clusterRouter) subscriberFor(name string, control bool) (*subscriber, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	addr := r.slots[slot(name)]
	if addr == "" {
		return nil, "", fmt.Errorf("redis: no cluster node serves the slot of %q", name)
	}
	if s := r.subs[addr]; s != nil {
		return s, addr, nil
	}
	node := r.client.Nodes()[addr]
	if node == nil {
		opts := r.b.opts
		opts.Cluster = false
		c, err := newClient(opts, []string{addr})
		if err != nil {
			return nil, "", fmt.Errorf("redis: connect to cluster node %s: %w", addr, err)
		}
		r.own[addr], node = c, c
	}
	s := r.b.newSubscriber(node, control, r)
	r.subs[addr] = s
	return s, addr, nil
}

func (r *clusterRouter) subscribe(ctx context.Context, channel string) error {
	name := keys{r.b.opts.Prefix, channel}.pubsub()
	mu := r.stripe(name)
	mu.Lock()
	defer mu.Unlock()
	for tries := 0; ; tries++ {
		s, addr, err := r.subscriberFor(name, false)
		if err != nil {
			return err
		}
		err = s.subscribe(ctx, channel)
		if err == nil {
			r.mu.Lock()
			r.owner[channel] = addr
			_, dropped := r.retry[channel] // while it was being subscribed
			r.mu.Unlock()
			if dropped {
				r.wake()
			}
			return nil
		}
		if !errors.Is(err, errMoved) || tries > 0 {
			return err
		}
		// The map is stale: read it now for this channel, and let follow
		// move the others.
		if err := r.readSlots(ctx); err != nil {
			return err
		}
		r.wake()
	}
}

func (r *clusterRouter) unsubscribe(ctx context.Context, channel string) error {
	mu := r.stripe(keys{r.b.opts.Prefix, channel}.pubsub())
	mu.Lock()
	defer mu.Unlock()
	r.mu.Lock()
	addr, ok := r.owner[channel]
	delete(r.owner, channel)
	delete(r.retry, channel)
	s := r.subs[addr]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	return s.unsubscribe(ctx, channel)
}

// ready reports whether every connection that carries something is up:
// a master left without channels (after a failover, say) does not count.
func (r *clusterRouter) ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.subs {
		if s.carries() && !s.ready() {
			return false
		}
	}
	return true
}

// closeOwn closes the clients the router made; the broker's goroutines
// have ended.
func (r *clusterRouter) closeOwn() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.own {
		c.Close()
	}
}

func (r *clusterRouter) each(f func(*dispatcher)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.subs {
		f(s.d)
	}
}

// slot is Redis Cluster's slot of a key or shard channel: CRC16 (XMODEM)
// of its hash tag (the part between the first { and the next }, when not
// empty) or of the whole name, modulo 16384.
func slot(name string) uint16 {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		if j := strings.IndexByte(name[i+1:], '}'); j > 0 {
			name = name[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(name); k++ {
		crc ^= uint16(name[k]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % clusterSlots
}
