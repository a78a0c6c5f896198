package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/heraldrt/herald"
	"github.com/redis/rueidis"
)

var _ herald.Presence = (*Presence)(nil)

// Presence keeps who is subscribed in Redis, shared by every node. Each
// entry lives Options.PresenceTTL; the node that added it re-adds it every
// third of that until it is removed, so the entries of a node that dies
// are gone within PresenceTTL. The node remembers its own entries for
// that, which costs it a map entry per local presence subscription.
type Presence struct {
	opts    Options
	clients []rueidis.Client

	mu    sync.Mutex
	local map[string]map[string]herald.ClientInfo // channel -> client -> entry

	done chan struct{}
	wg   sync.WaitGroup
}

// NewPresence connects to Redis as opts say (as New does) and starts
// refreshing the entries it adds; Close stops it.
func NewPresence(opts Options) (*Presence, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	p := &Presence{opts: opts, local: map[string]map[string]herald.ClientInfo{}, done: make(chan struct{})}
	addrs := [][]string{opts.Addresses}
	if !opts.Cluster {
		addrs = addrs[:0]
		for _, a := range opts.Addresses {
			addrs = append(addrs, []string{a})
		}
	}
	for _, a := range addrs {
		c, err := newClient(opts, a)
		if err != nil {
			p.closeClients()
			return nil, fmt.Errorf("redis presence: connect to %v: %w", a, err)
		}
		p.clients = append(p.clients, c)
	}
	p.wg.Add(1)
	go p.refreshLoop()
	return p, nil
}

// Close stops refreshing and closes the connections. Entries stay in
// Redis until they expire (or until the hub removed them before).
func (p *Presence) Close() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	close(p.done)
	p.wg.Wait()
	p.closeClients()
	return nil
}

func (p *Presence) closeClients() {
	for _, c := range p.clients {
		c.Close()
	}
}

func (p *Presence) client(channel string) rueidis.Client {
	if p.opts.Cluster {
		return p.clients[0]
	}
	return p.clients[ShardIndex(channel, len(p.clients))]
}

func presenceKeys(prefix, channel string) []string {
	k := keys{prefix, channel}
	return []string{k.presence(), k.presenceUsers(), k.presenceClients(), k.presenceExpiry()}
}

func (p *Presence) addArgs(c herald.ClientInfo) ([]string, error) {
	j, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return []string{c.Client, c.User, string(j), strconv.FormatInt(p.opts.PresenceTTL.Milliseconds(), 10)}, nil
}

// AddPresence adds or replaces the client's entry, and remembers it to
// refresh it, even when Redis fails now: the refresh adds it then.
func (p *Presence) AddPresence(ctx context.Context, channel string, c herald.ClientInfo) error {
	args, err := p.addArgs(c)
	if err != nil {
		return err
	}
	// Remembered first, so that the next refresh adds an entry that
	// Redis could not take now.
	p.mu.Lock()
	m := p.local[channel]
	if m == nil {
		m = map[string]herald.ClientInfo{}
		p.local[channel] = m
	}
	m[c.Client] = c
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	if err := presenceAddScript.Exec(ctx, p.client(channel), presenceKeys(p.opts.Prefix, channel), args).Error(); err != nil {
		return fmt.Errorf("redis presence: add to %q: %w", channel, err)
	}
	return nil
}

// RemovePresence removes the client's entry. It stops refreshing it even
// when Redis cannot be reached, so that the entry then expires.
func (p *Presence) RemovePresence(ctx context.Context, channel, client string) error {
	p.mu.Lock()
	if m := p.local[channel]; m != nil {
		delete(m, client)
		if len(m) == 0 {
			delete(p.local, channel)
		}
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	if err := presenceRemoveScript.Exec(ctx, p.client(channel), presenceKeys(p.opts.Prefix, channel), []string{client}).Error(); err != nil {
		return fmt.Errorf("redis presence: remove from %q: %w", channel, err)
	}
	return nil
}

// Presence lists the channel's live entries, of every node.
func (p *Presence) Presence(ctx context.Context, channel string) (map[string]herald.ClientInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	m, err := presenceListScript.Exec(ctx, p.client(channel), presenceKeys(p.opts.Prefix, channel), nil).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("redis presence: list %q: %w", channel, err)
	}
	out := make(map[string]herald.ClientInfo, len(m))
	for client, j := range m {
		var c herald.ClientInfo
		if err := json.Unmarshal([]byte(j), &c); err != nil {
			return nil, fmt.Errorf("redis presence: entry %q of %q: %w", client, channel, err)
		}
		out[client] = c
	}
	return out, nil
}

// PresenceStats counts the channel's live entries and distinct users
// without reading the entries.
func (p *Presence) PresenceStats(ctx context.Context, channel string) (herald.PresenceStats, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	n, err := presenceStatsScript.Exec(ctx, p.client(channel), presenceKeys(p.opts.Prefix, channel), nil).AsIntSlice()
	if err != nil || len(n) != 2 {
		return herald.PresenceStats{}, fmt.Errorf("redis presence: count %q: %v", channel, err)
	}
	return herald.PresenceStats{NumClients: int(n[0]), NumUsers: int(n[1])}, nil
}

// refreshBatch is how many entries one pipelined refresh carries.
const refreshBatch = 1000

func (p *Presence) refreshLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.refresh()
		}
	}
}

// refresh re-adds every entry this node added and has not removed,
// pipelined per channel. A failure is logged and retried at the next tick,
// which still comes before the entries expire.
func (p *Presence) refresh() {
	type entry struct {
		channel string
		c       herald.ClientInfo
	}
	p.mu.Lock()
	var all []entry
	for ch, m := range p.local {
		for _, c := range m {
			all = append(all, entry{ch, c})
		}
	}
	p.mu.Unlock()
	byClient := map[rueidis.Client][]rueidis.LuaExec{}
	for _, e := range all {
		args, err := p.addArgs(e.c)
		if err != nil {
			continue
		}
		c := p.client(e.channel)
		byClient[c] = append(byClient[c], rueidis.LuaExec{Keys: presenceKeys(p.opts.Prefix, e.channel), Args: args})
	}
	for c, execs := range byClient {
		for len(execs) > 0 {
			n := min(refreshBatch, len(execs))
			ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
			for _, r := range presenceAddScript.ExecMulti(ctx, c, execs[:n]...) {
				if err := r.Error(); err != nil {
					p.opts.Logger.Warn("redis presence: refresh failed; retrying at the next tick", "err", err)
					break
				}
			}
			cancel()
			execs = execs[n:]
		}
	}
}
