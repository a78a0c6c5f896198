package redis

import (
	"context"
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
// The slot map is read once, at Start. A cluster that moves slots while
// nodes run is not followed: restart the nodes after resharding.
type clusterRouter struct {
	b      *Broker
	client rueidis.Client
	slots  [clusterSlots]string // slot -> master address

	mu   sync.Mutex
	subs map[string]*subscriber // by master address
}

const clusterSlots = 16384

func (b *Broker) newClusterRouter(c rueidis.Client) (router, error) {
	r := &clusterRouter{b: b, client: c, subs: map[string]*subscriber{}}
	ctx, cancel := b.ctx(context.Background())
	defer cancel()
	if err := r.readSlots(ctx); err != nil {
		return nil, err
	}
	// The control channel's master is subscribed from the start, so that
	// control messages reach this node before any channel is subscribed.
	if _, err := r.subscriberFor(controlChannel(b.opts.Prefix), true); err != nil {
		return nil, err
	}
	return r, nil
}

// readSlots reads CLUSTER SLOTS: {start, end, {ip, port, id}, replicas...}.
func (r *clusterRouter) readSlots(ctx context.Context) error {
	ranges, err := r.client.Do(ctx, r.client.B().ClusterSlots().Build()).ToArray()
	if err != nil {
		return fmt.Errorf("redis: read the cluster's slots: %w", err)
	}
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
			r.slots[s] = addr
		}
	}
	return nil
}

// subscriberFor returns the subscriber of the master serving name's slot,
// making it on first use.
func (r *clusterRouter) subscriberFor(name string, control bool) (*subscriber, error) {
	addr := r.slots[slot(name)]
	if addr == "" {
		return nil, fmt.Errorf("redis: no cluster node serves the slot of %q", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.subs[addr]; s != nil {
		return s, nil
	}
	node := r.client.Nodes()[addr]
	if node == nil {
		return nil, fmt.Errorf("redis: cluster node %s is not known to the client", addr)
	}
	s := r.b.newSubscriber(node, control, true)
	r.subs[addr] = s
	return s, nil
}

func (r *clusterRouter) subscribe(ctx context.Context, channel string) error {
	s, err := r.subscriberFor(keys{r.b.opts.Prefix, channel}.pubsub(), false)
	if err != nil {
		return err
	}
	return s.subscribe(ctx, channel)
}

func (r *clusterRouter) unsubscribe(ctx context.Context, channel string) error {
	s, err := r.subscriberFor(keys{r.b.opts.Prefix, channel}.pubsub(), false)
	if err != nil {
		return err
	}
	return s.unsubscribe(ctx, channel)
}

func (r *clusterRouter) ready() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.subs {
		if !s.ready() {
			return false
		}
	}
	return true
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
