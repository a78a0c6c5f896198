package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldrt/herald"
	"github.com/redis/rueidis"
)

// router finds the pub/sub connection of a channel: one per shard, or one
// per cluster master.
type router interface {
	subscribe(ctx context.Context, channel string) error
	unsubscribe(ctx context.Context, channel string) error
	ready() bool
	each(func(*dispatcher))
}

func (b *Broker) newRouter(c rueidis.Client, control bool) (router, error) {
	if b.opts.Cluster {
		return b.newClusterRouter(c)
	}
	return b.newSubscriber(c, control, nil), nil
}

// maxReconnectDelay caps the wait between attempts to reconnect pub/sub.
const maxReconnectDelay = 2 * time.Second

// subscriber is one pub/sub connection carrying every channel of one
// Redis node that this node is subscribed to. Its loop dials it, and
// dials again after it breaks, subscribing to every channel again and
// then catching up on what was missed meanwhile (see dispatcher).
type subscriber struct {
	b       *Broker
	node    rueidis.Client
	sharded bool           // SSUBSCRIBE rather than SUBSCRIBE
	cluster *clusterRouter // told of slot moves; nil unless sharded
	d       *dispatcher

	mu       sync.Mutex
	control  bool                // also carries the control channel
	channels map[string]struct{} // herald channels wanted
	conn     rueidis.DedicatedClient
	up       chan struct{} // closed while conn is up
	// cmdMu serializes commands on conn, which is one connection.
	cmdMu sync.Mutex
}

func (b *Broker) newSubscriber(node rueidis.Client, control bool, cluster *clusterRouter) *subscriber {
	s := &subscriber{b: b, node: node, control: control, sharded: cluster != nil, cluster: cluster,
		channels: map[string]struct{}{}, up: make(chan struct{})}
	s.d = newDispatcher(b)
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		s.d.run(b.done)
	}()
	go func() {
		defer b.wg.Done()
		s.run(b.done)
	}()
	return s
}

func (s *subscriber) ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

func (s *subscriber) run(done <-chan struct{}) {
	delay := s.b.opts.ReconnectDelay
	for connected := false; ; {
		if connected {
			s.d.suspectAll()
		}
		lost, dc, err := s.connect(done)
		if err == nil {
			connected = true
			delay = s.b.opts.ReconnectDelay
			select {
			case err = <-lost:
			case <-done:
			}
			s.mu.Lock()
			s.conn, s.up = nil, make(chan struct{})
			s.mu.Unlock()
		}
		// Closed rather than returned to rueidis's pool: it carried this
		// node's subscriptions, and the next attempt dials afresh.
		dc.Close()
		select {
		case <-done:
			return
		default:
		}
		if s.cluster != nil && !s.carries() {
			// A master this node has nothing on any more (a failover
			// demoted or killed it): nothing to follow, nothing to warn of.
			s.b.opts.Logger.Debug("redis pub/sub connection lost; reconnecting", "addr", addrOf(s.node), "err", err, "in", delay)
		} else {
			s.b.opts.Logger.Warn("redis pub/sub connection lost; reconnecting", "addr", addrOf(s.node), "err", err, "in", delay)
			if s.cluster != nil {
				// A failover, or a slot moved under one of its channels.
				s.cluster.wake()
			}
		}
		select {
		case <-done:
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, maxReconnectDelay)
	}
}

// connect dials a dedicated connection, subscribes it to every wanted
// channel, marks it up and queues a catch-up of every channel.
func (s *subscriber) connect(done <-chan struct{}) (<-chan error, rueidis.DedicatedClient, error) {
	dc, _ := s.node.Dedicate()
	lost := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: s.d.onMessage, OnSubscription: s.onSubscription})
	s.mu.Lock()
	names := make([]string, 0, len(s.channels)+1)
	for ch := range s.channels {
		names = append(names, keys{s.b.opts.Prefix, ch}.pubsub())
	}
	if s.control {
		names = append(names, controlChannel(s.b.opts.Prefix))
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.b.opts.Timeout)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for _, batch := range s.batches(names) {
		if err := s.do(ctx, dc, batch...); err != nil {
			return nil, dc, err
		}
	}
	s.mu.Lock()
	s.conn = dc
	close(s.up)
	s.mu.Unlock()
	s.d.catchUpAll()
	return lost, dc, nil
}

// batches splits names into subscribe commands: of up to 1000 names, and
// for SSUBSCRIBE of one slot each, which it requires.
func (s *subscriber) batches(names []string) [][]string {
	const most = 1000
	groups := map[uint16][]string{}
	if s.sharded {
		for _, n := range names {
			groups[slot(n)] = append(groups[slot(n)], n)
		}
	} else if len(names) > 0 {
		groups[0] = names
	}
	var out [][]string
	for _, g := range groups {
		for len(g) > 0 {
			n := min(most, len(g))
			out = append(out, g[:n])
			g = g[n:]
		}
	}
	return out
}

func (s *subscriber) do(ctx context.Context, dc rueidis.DedicatedClient, names ...string) error {
	cmd := dc.B().Subscribe().Channel(names...).Build()
	if s.sharded {
		cmd = dc.B().Ssubscribe().Channel(names...).Build()
	}
	return dc.Do(ctx, cmd).Error()
}

// subscribe adds the channel and subscribes the connection, waiting for
// it to be up, but not long: the hub waits holding a lock of its own, and
// a client told 114 retries anyway.
func (s *subscriber) subscribe(ctx context.Context, channel string) error {
	downWait := time.NewTimer(min(time.Second, s.b.opts.Timeout))
	defer downWait.Stop()
	s.mu.Lock()
	s.channels[channel] = struct{}{}
	s.mu.Unlock()
	s.d.track(channel)
	for {
		s.mu.Lock()
		conn, up := s.conn, s.up
		s.mu.Unlock()
		if conn != nil {
			s.cmdMu.Lock()
			err := s.do(ctx, conn, keys{s.b.opts.Prefix, channel}.pubsub())
			s.cmdMu.Unlock()
			if err == nil {
				s.readBase(ctx, channel)
				return nil
			}
			if ctx.Err() != nil || isMoved(err) {
				if isMoved(err) {
					err = fmt.Errorf("%w: %w", errMoved, err)
				}
				s.forget(channel)
				return err
			}
			// The connection broke under the command: wait for the next.
			s.mu.Lock()
			if s.conn == conn {
				s.mu.Unlock()
				select {
				case <-ctx.Done():
					s.forget(channel)
					return err
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
			s.mu.Unlock()
			continue
		}
		select {
		case <-up:
		case <-downWait.C:
			s.forget(channel)
			return errors.New("redis broker: pub/sub is not connected")
		case <-ctx.Done():
			s.forget(channel)
			return errors.New("redis broker: pub/sub is not connected: " + ctx.Err().Error())
		}
	}
}

// readBase reads the stream's position now that the channel is subscribed:
// publications after it arrive through pub/sub, or by a catch-up.
func (s *subscriber) readBase(ctx context.Context, channel string) {
	res, err := s.b.History(ctx, channel, herald.HistoryOptions{})
	if err == nil {
		s.d.setBase(channel, res.StreamPosition)
	}
}

func (s *subscriber) each(f func(*dispatcher)) { f(s.d) }

func (s *subscriber) forget(channel string) {
	s.mu.Lock()
	delete(s.channels, channel)
	s.mu.Unlock()
	s.d.untrack(channel)
}

// unsubscribe forgets the channel; the connection unsubscribes if it is
// up (a new one will not subscribe to it).
func (s *subscriber) unsubscribe(ctx context.Context, channel string) error {
	s.forget(channel)
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn == nil {
		return nil
	}
	name := keys{s.b.opts.Prefix, channel}.pubsub()
	cmd := conn.B().Unsubscribe().Channel(name).Build()
	if s.sharded {
		cmd = conn.B().Sunsubscribe().Channel(name).Build()
	}
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()
	return conn.Do(ctx, cmd).Error()
}

// addrOf names a node client for logs.
func addrOf(c rueidis.Client) string {
	for a := range c.Nodes() {
		return a
	}
	return ""
}
