package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
	"github.com/redis/rueidis"
)

var _ herald.Broker = (*Broker)(nil)

// Broker states.
const (
	stateNew int32 = iota
	stateRunning
	stateClosed
)

// ErrNotRunning is returned by every call before Start or after Close.
var ErrNotRunning = errors.New("redis broker: not running")

// Broker is the Redis broker. The zero value is not usable; call New.
type Broker struct {
	opts   Options
	shards []*shard
	// pubCmd publishes to a channel's pub/sub channel: spublish in a
	// cluster, so that a publication reaches only its slot's nodes.
	pubCmd string

	state   atomic.Int32
	handler herald.BrokerHandler
	mu      sync.Mutex // guards starting and closing
	done    chan struct{}
	wg      sync.WaitGroup
}

// shard is one Redis (or one cluster) holding the channels that hash to it.
type shard struct {
	client rueidis.Client
	router router
}

// New connects to Redis as opts say. A single Redis or shards that are
// down at start are connected to later, when they come up; a cluster must
// answer so that its slot map is known.
func New(opts Options) (*Broker, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	b := &Broker{opts: opts, pubCmd: "publish"}
	if opts.Cluster {
		b.pubCmd = "spublish"
		c, err := newClient(opts, opts.Addresses)
		if err != nil {
			return nil, fmt.Errorf("redis: connect to the cluster at %s: %w", strings.Join(opts.Addresses, ","), err)
		}
		b.shards = []*shard{{client: c}}
	} else {
		for _, a := range opts.Addresses {
			c, err := newClient(opts, []string{a})
			if err != nil {
				b.closeClients()
				return nil, fmt.Errorf("redis: connect to %s: %w", a, err)
			}
			b.shards = append(b.shards, &shard{client: c})
		}
	}
	return b, nil
}

// newClient makes a rueidis client. Client-side caching is off (Herald
// reads nothing it could cache), and a single server is given a client
// even while it is down, so that a node can start before its Redis.
func newClient(opts Options, addrs []string) (rueidis.Client, error) {
	return rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       addrs,
		Username:          opts.Username,
		Password:          opts.Password,
		SelectDB:          opts.DB,
		TLSConfig:         opts.TLS,
		DisableCache:      true,
		ForceSingleClient: !opts.Cluster,
		ConnWriteTimeout:  opts.Timeout,
	})
}

func (b *Broker) closeClients() {
	for _, s := range b.shards {
		if r, ok := s.router.(*clusterRouter); ok {
			r.closeOwn()
		}
		s.client.Close()
	}
}

func (b *Broker) shardOf(channel string) *shard {
	return b.shards[ShardIndex(channel, len(b.shards))]
}

// Start subscribes to the control channel and begins delivering to h.
// Pub/sub connections are made in the background: Subscribe waits for
// its shard's, up to Options.Timeout.
func (b *Broker) Start(h herald.BrokerHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case stateRunning:
		return errors.New("redis broker: already started")
	case stateClosed:
		return errors.New("redis broker: closed")
	}
	b.handler, b.done = h, make(chan struct{})
	for i, s := range b.shards {
		var err error
		if s.router, err = b.newRouter(s.client, i == 0); err != nil {
			close(b.done)
			b.state.Store(stateClosed)
			b.wg.Wait()
			b.closeClients()
			return err
		}
	}
	b.state.Store(stateRunning)
	b.waitUp()
	return nil
}

// waitUp waits, at most Options.Timeout, for every pub/sub connection to
// be up, so that what is published right after Start reaches this node
// too: a control message travels on the first shard's connection, which a
// Subscribe to a channel of another shard does not wait for. Redis being
// down is not an error here: the node starts not ready (/readyz answers
// 503) and subscribes once Redis is back.
func (b *Broker) waitUp() {
	deadline := time.Now().Add(b.opts.Timeout)
	for {
		up := true
		for _, s := range b.shards {
			up = up && s.router.ready()
		}
		if up {
			return
		}
		if time.Now().After(deadline) {
			b.opts.Logger.Warn("redis broker: pub/sub is not up yet; starting not ready", "waited", b.opts.Timeout)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close stops delivery, closes the connections and waits for the
// broker's goroutines: once it returns the handler is not called again.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Swap(stateClosed) {
	case stateClosed:
		return nil
	case stateRunning:
		close(b.done)
		b.wg.Wait()
	}
	b.closeClients()
	return nil
}

func (b *Broker) running() bool { return b.state.Load() == stateRunning }

// Ready reports whether every pub/sub connection is up and every shard
// answers PING within a second (or Options.Timeout if shorter), so that a
// health check gets its answer in time: while one is not, this node misses
// publications of some channels or cannot publish to them, so a load
// balancer should send new clients elsewhere. The PING also replaces a
// command connection broken by a Redis restart before a publication
// would find it broken.
func (b *Broker) Ready(ctx context.Context) bool {
	if !b.running() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, min(time.Second, b.opts.Timeout))
	defer cancel()
	for _, s := range b.shards {
		if !s.router.ready() || s.client.Do(ctx, s.client.B().Ping().Build()).Error() != nil {
			return false
		}
	}
	return true
}

func (b *Broker) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.opts.Timeout)
}

// Publish runs publishScript: one round trip assigns the offset, keeps
// the history and publishes to every node.
func (b *Broker) Publish(ctx context.Context, channel string, data []byte, opts herald.PublishOptions) (herald.StreamPosition, error) {
	if !b.running() {
		return herald.StreamPosition{}, ErrNotRunning
	}
	k := keys{b.opts.Prefix, channel}
	ks := []string{k.stream(), k.history()}
	if opts.IdempotencyKey != "" && opts.IdempotencyWindow > 0 {
		ks = append(ks, k.idem(opts.IdempotencyKey))
	}
	args := []string{
		string(data),
		strconv.Itoa(max(opts.HistorySize, 0)),
		strconv.FormatInt(opts.HistoryTTL.Milliseconds(), 10),
		newEpoch(),
		opts.Origin,
		k.pubsub(),
		b.pubCmd,
		strconv.FormatInt(opts.IdempotencyWindow.Milliseconds(), 10),
	}
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	res, err := publishScript.Exec(ctx, b.shardOf(channel).client, ks, args).ToString()
	if err != nil {
		return herald.StreamPosition{}, fmt.Errorf("redis broker: publish to %q: %w", channel, err)
	}
	return parsePosition(res)
}

// parsePosition reads "offset epoch".
func parsePosition(s string) (herald.StreamPosition, error) {
	off, epoch, ok := strings.Cut(s, " ")
	n, err := strconv.ParseUint(off, 10, 64)
	if !ok || err != nil {
		return herald.StreamPosition{}, fmt.Errorf("redis broker: unexpected position %q from Redis", s)
	}
	return herald.StreamPosition{Offset: n, Epoch: epoch}, nil
}

// newEpoch names a new history; it only needs to differ from the one
// before it in the same channel.
func newEpoch() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PublishJoin publishes a join event to the channel's pub/sub channel, so
// that it is ordered with the channel's publications.
func (b *Broker) PublishJoin(ctx context.Context, channel string, c herald.ClientInfo) error {
	return b.publishEvent(ctx, channel, 'j', c)
}

// PublishLeave publishes a leave event, as PublishJoin.
func (b *Broker) PublishLeave(ctx context.Context, channel string, c herald.ClientInfo) error {
	return b.publishEvent(ctx, channel, 'l', c)
}

func (b *Broker) publishEvent(ctx context.Context, channel string, kind byte, c herald.ClientInfo) error {
	if !b.running() {
		return ErrNotRunning
	}
	j, err := json.Marshal(c)
	if err != nil {
		return err
	}
	msg := append([]byte{kind}, j...)
	return b.publishRaw(ctx, b.shardOf(channel).client, keys{b.opts.Prefix, channel}.pubsub(), string(msg))
}

// PublishControl publishes to the control channel, on the first shard,
// which every node subscribes to.
func (b *Broker) PublishControl(ctx context.Context, data []byte) error {
	if !b.running() {
		return ErrNotRunning
	}
	return b.publishRaw(ctx, b.shards[0].client, controlChannel(b.opts.Prefix), string(data))
}

func (b *Broker) publishRaw(ctx context.Context, c rueidis.Client, ch, msg string) error {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	cmd := c.B().Publish().Channel(ch).Message(msg).Build()
	if b.opts.Cluster {
		cmd = c.B().Spublish().Channel(ch).Message(msg).Build()
	}
	if err := c.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis broker: publish to %s: %w", ch, err)
	}
	return nil
}

// History reads the channel's position and a page of its history.
func (b *Broker) History(ctx context.Context, channel string, opts herald.HistoryOptions) (herald.HistoryResult, error) {
	if !b.running() {
		return herald.HistoryResult{}, ErrNotRunning
	}
	k := keys{b.opts.Prefix, channel}
	create, since, reverse := "0", "-1", "0"
	if opts.Stream.HistorySize > 0 {
		create = "1"
	}
	if opts.Since != nil {
		since = strconv.FormatUint(opts.Since.Offset, 10)
	}
	if opts.Reverse {
		reverse = "1"
	}
	args := []string{create, strconv.FormatInt(opts.Stream.HistoryTTL.Milliseconds(), 10), newEpoch(),
		since, strconv.Itoa(max(opts.Limit, 0)), reverse}
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	vals, err := historyScript.Exec(ctx, b.shardOf(channel).client, []string{k.stream(), k.history()}, args).ToArray()
	if err != nil {
		return herald.HistoryResult{}, fmt.Errorf("redis broker: history of %q: %w", channel, err)
	}
	return parseHistory(vals, opts.Reverse)
}

func parseHistory(vals []rueidis.RedisMessage, reverse bool) (herald.HistoryResult, error) {
	bad := func(what string, err error) (herald.HistoryResult, error) {
		return herald.HistoryResult{}, fmt.Errorf("redis broker: unexpected history reply (%s): %w", what, err)
	}
	if len(vals) < 2 {
		return bad("short", errors.New("fewer than 2 elements"))
	}
	top, err := vals[0].AsInt64()
	if err != nil {
		return bad("offset", err)
	}
	epoch, err := vals[1].ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return bad("epoch", err)
	}
	res := herald.HistoryResult{StreamPosition: herald.StreamPosition{Offset: uint64(top), Epoch: epoch}}
	if n := len(vals) - 2; n > 0 {
		res.Publications = make([]herald.Publication, n)
	}
	for i, v := range vals[2:] {
		e, err := v.ToString()
		if err != nil {
			return bad("entry", err)
		}
		off, data, _ := strings.Cut(e, " ")
		o, err := strconv.ParseUint(off, 10, 64)
		if err != nil {
			return bad("entry offset", err)
		}
		j := i
		if reverse {
			j = len(res.Publications) - 1 - i
		}
		res.Publications[j] = herald.Publication{Data: []byte(data), StreamPosition: herald.StreamPosition{Offset: o, Epoch: epoch}}
	}
	return res, nil
}

// RemoveHistory drops the channel's kept publications; the stream, with
// its offset and epoch, goes on until it expires.
func (b *Broker) RemoveHistory(ctx context.Context, channel string) error {
	if !b.running() {
		return ErrNotRunning
	}
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	c := b.shardOf(channel).client
	if err := c.Do(ctx, c.B().Del().Key(keys{b.opts.Prefix, channel}.history()).Build()).Error(); err != nil {
		return fmt.Errorf("redis broker: remove the history of %q: %w", channel, err)
	}
	return nil
}

// Subscribe makes this node receive the channel's publications; it
// returns once Redis confirmed the subscription.
func (b *Broker) Subscribe(ctx context.Context, channel string) error {
	if !b.running() {
		return ErrNotRunning
	}
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.shardOf(channel).router.subscribe(ctx, channel)
}

// Unsubscribe stops them.
func (b *Broker) Unsubscribe(ctx context.Context, channel string) error {
	if !b.running() {
		return ErrNotRunning
	}
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	return b.shardOf(channel).router.unsubscribe(ctx, channel)
}
