package hub

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// shards is the number of independent locks for channels and for
// connections: subscribes and fan-outs on different channels rarely contend.
const shards = 64

// subShard maps the channels that hash to it to their local subscribers.
// A subscriber's value is nil, or its subscription while it recovers.
type subShard struct {
	mu       sync.RWMutex
	channels map[string]map[*Session]*subscription
	taps     map[string]map[*tap]struct{} // the channels' live taps (tap.go)
	// joined marks the subscribers of channels without history registered
	// while deliveries of the shard's sequence were in flight: the seq of
	// the last delivery queued then. Those up to it were published before
	// the subscribe (their publish may have been answered already) and
	// are not theirs. An entry goes once the fan-out has passed its mark,
	// so the map is empty but in that moment, and njoined (its size, read
	// without the lock) spares every other delivery a look-up.
	joined  map[joinKey]uint64
	njoined atomic.Int32
}

type joinKey struct {
	s       *Session
	channel string
}

// markJoined records, with mu held for writing, that s subscribes to
// channel while the deliveries of seq up to added are in flight.
func (sh *subShard) markJoined(s *Session, channel string, sq *sequence) {
	added := sq.added.Load()
	if added <= sq.done.Load() {
		return // nothing in flight: the usual case costs two loads
	}
	if sh.joined == nil {
		sh.joined = make(map[joinKey]uint64)
	}
	sh.joined[joinKey{s, channel}] = added
	sh.njoined.Store(int32(len(sh.joined)))
}

// joinedAfter reports whether s subscribed to d's channel after d was
// queued; mu is held for reading.
func (sh *subShard) joinedAfter(s *Session, d *delivery) bool {
	mark, ok := sh.joined[joinKey{s, d.channel}]
	return ok && d.seq <= mark
}

// passed forgets the marks the fan-out has passed (seq and before).
func (sh *subShard) passed(seq uint64) {
	if sh.njoined.Load() == 0 {
		return
	}
	sh.mu.Lock()
	for k, mark := range sh.joined {
		if mark <= seq {
			delete(sh.joined, k)
		}
	}
	sh.njoined.Store(int32(len(sh.joined)))
	sh.mu.Unlock()
}

// idShard finds a session by its client id: one session per id, so no
// set per key (a few hundred bytes per connection saved).
type idShard struct {
	mu sync.Mutex
	m  map[string]*Session
}

// indexShard finds sessions by user id.
type indexShard struct {
	mu sync.Mutex
	m  map[string]map[*Session]struct{}
}

// connShard registers sessions, for heartbeats and shutdown.
type connShard struct {
	mu       sync.Mutex
	sessions map[*Session]struct{}
}

type registry struct {
	seed  maphash.Seed
	subs  [shards]subShard
	conns [shards]connShard
	ids   [shards]idShard    // client id → session
	users [shards]indexShard // user id → sessions
}

func (r *registry) init() {
	r.seed = maphash.MakeSeed()
	for i := range r.subs {
		r.subs[i].channels = make(map[string]map[*Session]*subscription)
		r.subs[i].taps = make(map[string]map[*tap]struct{})
		r.conns[i].sessions = make(map[*Session]struct{})
		r.ids[i].m = make(map[string]*Session)
		r.users[i].m = make(map[string]map[*Session]struct{})
	}
}

func (r *registry) subShard(channel string) *subShard {
	return &r.subs[r.subIndex(channel)]
}

// subIndex is the channel's shard; the fan-out orders each shard's
// deliveries in one sequence.
func (r *registry) subIndex(channel string) int {
	return int(maphash.String(r.seed, channel) % shards)
}

func (r *registry) connShard(s *Session) *connShard {
	return &r.conns[s.seq%shards]
}

func (r *registry) addConn(s *Session) {
	sh := r.connShard(s)
	sh.mu.Lock()
	sh.sessions[s] = struct{}{}
	sh.mu.Unlock()
}

func (r *registry) removeConn(s *Session) {
	sh := r.connShard(s)
	sh.mu.Lock()
	delete(sh.sessions, s)
	sh.mu.Unlock()
}

// eachConn calls fn for every registered session, one shard at a time,
// outside the shard's lock so fn may close sessions.
func (r *registry) eachConn(fn func(*Session)) {
	var batch []*Session
	for i := range r.conns {
		sh := &r.conns[i]
		sh.mu.Lock()
		batch = batch[:0]
		for s := range sh.sessions {
			batch = append(batch, s)
		}
		sh.mu.Unlock()
		for _, s := range batch {
			fn(s)
		}
	}
}

func (r *registry) numConns() int {
	n := 0
	for i := range r.conns {
		sh := &r.conns[i]
		sh.mu.Lock()
		n += len(sh.sessions)
		sh.mu.Unlock()
	}
	return n
}

func (r *registry) indexShard(idx *[shards]indexShard, key string) *indexShard {
	return &idx[maphash.String(r.seed, key)%shards]
}

// indexUpTo adds s under key ("" is not indexed: anonymous users) unless
// limit (> 0) sessions are there
// already, checking and adding under one lock so that simultaneous
// connects cannot pass the limit together. It reports whether s was added.
func (r *registry) indexUpTo(idx *[shards]indexShard, key string, s *Session, limit int) bool {
	if key == "" {
		return true
	}
	sh := r.indexShard(idx, key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	set := sh.m[key]
	if limit > 0 && len(set) >= limit {
		return false
	}
	if set == nil {
		set = make(map[*Session]struct{}, 1)
		sh.m[key] = set
	}
	set[s] = struct{}{}
	return true
}

func (r *registry) unindex(idx *[shards]indexShard, key string, s *Session) {
	if key == "" {
		return
	}
	sh := r.indexShard(idx, key)
	sh.mu.Lock()
	if set := sh.m[key]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(sh.m, key)
		}
	}
	sh.mu.Unlock()
}

// lookup returns the sessions indexed under key.
func (r *registry) lookup(idx *[shards]indexShard, key string) []*Session {
	if key == "" {
		return nil
	}
	sh := r.indexShard(idx, key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := make([]*Session, 0, len(sh.m[key]))
	for s := range sh.m[key] {
		out = append(out, s)
	}
	return out
}

// numKeys counts distinct keys of an index (e.g. distinct users).
func (r *registry) numKeys(idx *[shards]indexShard) int {
	n := 0
	for i := range idx {
		idx[i].mu.Lock()
		n += len(idx[i].m)
		idx[i].mu.Unlock()
	}
	return n
}

// eachChannel calls fn with every channel that has local subscribers and
// their number, under the channel's shard lock (fn must not block).
func (r *registry) eachChannel(fn func(channel string, subscribers int)) {
	for i := range r.subs {
		sh := &r.subs[i]
		sh.mu.RLock()
		for ch, subs := range sh.channels {
			fn(ch, len(subs))
		}
		sh.mu.RUnlock()
	}
}

func (r *registry) idShard(id string) *idShard {
	return &r.ids[maphash.String(r.seed, id)%shards]
}

func (r *registry) addID(id string, s *Session) {
	sh := r.idShard(id)
	sh.mu.Lock()
	sh.m[id] = s
	sh.mu.Unlock()
}

func (r *registry) removeID(id string, s *Session) {
	if id == "" {
		return
	}
	sh := r.idShard(id)
	sh.mu.Lock()
	if sh.m[id] == s {
		delete(sh.m, id)
	}
	sh.mu.Unlock()
}

// byID returns the session with the client id, or none.
func (r *registry) byID(id string) []*Session {
	if id == "" {
		return nil
	}
	sh := r.idShard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s := sh.m[id]; s != nil {
		return []*Session{s}
	}
	return nil
}
