package hub

import (
	"hash/maphash"
	"sync"
)

// shards is the number of independent locks for channels and for
// connections: subscribes and fan-outs on different channels rarely contend.
const shards = 64

// subShard maps the channels that hash to it to their local subscribers.
type subShard struct {
	mu       sync.RWMutex
	channels map[string]map[*Session]struct{}
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
}

func (r *registry) init() {
	r.seed = maphash.MakeSeed()
	for i := range r.subs {
		r.subs[i].channels = make(map[string]map[*Session]struct{})
		r.conns[i].sessions = make(map[*Session]struct{})
	}
}

func (r *registry) subShard(channel string) *subShard {
	return &r.subs[maphash.String(r.seed, channel)%shards]
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

// numChannels counts channels with local subscribers.
func (r *registry) numChannels() int {
	n := 0
	for i := range r.subs {
		sh := &r.subs[i]
		sh.mu.RLock()
		n += len(sh.channels)
		sh.mu.RUnlock()
	}
	return n
}
