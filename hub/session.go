package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

type sessionState uint8

const (
	stateNew       sessionState = iota // waiting for connect
	stateConnected                     // connect accepted
	stateClosed                        // ended; the transport may still be closing
)

// Session is one client connection's protocol state machine. Its transport
// calls HandleFrame from one goroutine; fan-out pushes to its queue from any.
type Session struct {
	hub  *Hub
	t    herald.Transport
	seq  uint64
	info herald.ConnInfo
	q    queue

	mu       sync.Mutex // guards the fields below
	state    sessionState
	id       string          // set once by connect, before any subscription
	user     string          // "" for anonymous connections; set once by connect
	connInfo json.RawMessage // public info from the credentials
	subExp   []subExpiry     // subscriptions whose token expires
	channels []string        // subscribed channels; a slice, as most connections have a few
	errors   int
	tokens   float64   // client publish rate limit bucket
	refilled time.Time // when tokens was last refilled
	// userCounted: this connection is in its user's count on every node
	// (userlimit.go) and must leave it when it closes.
	userCounted bool

	// attempt is the client id connect chose, kept before it is accepted
	// so that a refused connection's timeline can be found by it.
	attempt  string
	closedAt time.Time // when it closed, for its timeline

	tl        timeline
	traced    atomic.Pointer[traceSet] // the traces following it; nil for nearly all
	created   int64                    // unix nanos, for connect_timeout
	expiresAt atomic.Int64             // unix nanos when the credentials expire, 0 for never
	nextPing  atomic.Int64             // unix nanos of the next ping
	pingSent  atomic.Int64             // unix nanos of the unanswered ping, 0 if none
}

var _ herald.Session = (*Session)(nil)

func newSession(h *Hub, t herald.Transport, info herald.ConnInfo) *Session {
	// Browsers of one app send a few user agents and origins: each is kept
	// once, not once per connection.
	info.UserAgent, info.Origin = h.texts.intern(info.UserAgent), h.texts.intern(info.Origin)
	s := &Session{hub: h, t: t, info: info, seq: h.seq.Add(1), created: time.Now().UnixNano()}
	s.q = queue{limit: h.cfg.QueueSize, s: s}
	// The timeline's first event, the handshake, is made when the
	// timeline is read (describe) from created and info: idle
	// connections are the many, timelines read the few.
	return s
}

// ID is the client id given in the connect reply ("" before connect).
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// HandleFrame decodes the frame's commands and answers each in order.
func (s *Session) HandleFrame(frame []byte) {
	if set := s.traced.Load(); set != nil {
		s.traceFrame(set, "in", frame)
	}
	protocol.DecodeCommands(frame, func(cmd *protocol.Command, derr *protocol.DecodeError) {
		if derr != nil {
			code := herald.ErrBadRequest
			if derr.Unknown {
				code = herald.ErrUnknownCommand
			}
			s.fail(derr.ID, &herald.Error{Code: code, Message: derr.Message})
			return
		}
		s.handle(cmd)
	})
}

func (s *Session) handle(cmd *protocol.Command) {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state == stateClosed {
		return
	}
	if state == stateNew && cmd.Connect == nil && cmd.Ping == nil {
		s.fail(cmd.ID, herald.Errorf(herald.ErrNotConnected, "send connect first; got %s", cmd.Name()))
		return
	}
	var err error
	switch {
	case cmd.Connect != nil:
		err = s.connect(cmd.ID, cmd.Connect)
	case cmd.Subscribe != nil:
		err = s.subscribe(cmd.ID, cmd.Subscribe)
	case cmd.Unsubscribe != nil:
		err = s.unsubscribe(cmd.ID, cmd.Unsubscribe)
	case cmd.Publish != nil:
		err = s.publish(cmd.ID, cmd.Publish)
	case cmd.Ping != nil:
		s.reply(&protocol.Reply{ID: cmd.ID, Pong: &protocol.PongResult{}})
	case cmd.Pong != nil:
		s.pingSent.Store(0)
	case cmd.History != nil:
		err = s.history(cmd.ID, cmd.History)
	case cmd.Presence != nil:
		err = s.presence(cmd.ID, cmd.Presence)
	case cmd.PresenceStats != nil:
		err = s.presenceStats(cmd.ID, cmd.PresenceStats)
	case cmd.RPC != nil:
		err = s.rpc(cmd.ID, cmd.RPC)
	case cmd.Refresh != nil:
		err = s.refresh(cmd.ID, cmd.Refresh)
	case cmd.SubRefresh != nil:
		err = s.subRefresh(cmd.ID, cmd.SubRefresh)
	}
	if d, ok := asDisconnect(err); ok {
		s.Disconnect(d)
		return
	}
	if err != nil {
		s.fail(cmd.ID, err)
	}
}

func (s *Session) connect(id uint32, req *protocol.ConnectRequest) error {
	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return herald.Errorf(herald.ErrAlreadyConnected, "this connection is already connected as %s", s.id)
	}
	conn := s.info
	s.mu.Unlock()

	h := s.hub
	clientID := newClientID()
	s.mu.Lock()
	s.attempt = clientID
	s.mu.Unlock()
	if ld := req.LastDisconnect; ld != nil {
		s.event(Event{Kind: "client_last_disconnect", Code: uint32(ld.Code), Text: ld.Reason})
	}
	ident, err := s.authenticate(context.Background(), Credentials{
		Client: clientID, Token: req.Token, Data: req.Data, Name: req.Name, Version: req.Version, Conn: conn,
	})
	if err != nil {
		s.event(refusedEvent("connect_refused", "", err))
		return err
	}
	if strings.ContainsAny(ident.User, "#,") {
		// User-limited channels list users after '#', separated by ','.
		h.log.Error("user id refused: it contains '#' or ','", "client", clientID, "user", ident.User)
		d := herald.DisconnectInvalidToken
		d.Reason = "user id must not contain '#' or ','"
		return d
	}

	s.mu.Lock()
	if s.state != stateNew {
		s.mu.Unlock()
		return herald.Errorf(herald.ErrAlreadyConnected, "this connection is already connected as %s", s.id)
	}
	s.id, s.user = clientID, ident.User
	s.mu.Unlock()
	if !h.reg.indexUpTo(&h.reg.users, ident.User, s, h.cfg.UserConnectionLimit) {
		return herald.DisconnectConnectionLimit
	}
	if !h.admitUser(s, clientID, ident.User) {
		return herald.DisconnectConnectionLimit
	}
	s.mu.Lock()
	s.state = stateConnected
	s.connInfo = ident.Info
	s.info.Header = nil // only the connect hook needed the handshake's headers
	s.mu.Unlock()
	if !ident.ExpiresAt.IsZero() {
		s.expiresAt.Store(ident.ExpiresAt.UnixNano())
	}
	h.reg.addID(clientID, s)
	h.log.Debug("client connected", "client", clientID, "user", ident.User, "transport", conn.Transport, "remote", conn.RemoteAddr)
	if h.retrace(s) {
		// The trace learns who the connection is only now: show it the
		// connect it missed, as the command reads (redacted).
		b, err := json.Marshal(&protocol.Command{ID: id, Connect: req})
		if set := s.traced.Load(); set != nil && err == nil {
			s.traceFrame(set, "in", b)
		}
	}
	s.event(connectEvent(ident, req))

	cfg := &h.cfg
	now := time.Now()
	first := cfg.PingInterval - time.Duration(float64(cfg.PingInterval)*0.1*jitter())
	s.nextPing.Store(now.Add(first).UnixNano())
	expires, ttlSec := ttl(ident.ExpiresAt, now)
	s.reply(&protocol.Reply{ID: id, Connect: &protocol.ConnectResult{
		Client:  clientID,
		Version: cfg.Version,
		Ping:    uint32(cfg.PingInterval / time.Second),
		Pong:    true,
		User:    ident.User,
		Expires: expires,
		TTL:     ttlSec,
	}})
	s.subscribeAtConnect(ident)
	return nil
}

// subscribeAtConnect makes the subscriptions the credentials grant and the
// user's personal channel; each is announced with a sub push.
func (s *Session) subscribeAtConnect(ident Identity) {
	channels := ident.Channels
	if ns := s.hub.cfg.PersonalNamespace; ns != "" && ident.User != "" {
		channels = append(slices.Clip(channels), ns+":#"+ident.User)
	}
	for _, ch := range channels {
		j, err := s.join(context.Background(), ch, nil, 0)
		if err != nil {
			s.log().Warn("subscription at connect not made", "channel", ch, "err", err)
			continue
		}
		j.finish(s)
	}
}

// reply queues a reply. A command sent without an id gets no reply unless
// it failed (docs/protocol.md).
func (s *Session) reply(r *protocol.Reply) {
	if r.ID == 0 && r.Error == nil {
		return
	}
	s.q.push(protocol.EncodeReply(r))
}

// invalid lists the codes that mean the client sent something it should
// not have: enough of them and the client is cut off as broken.
var invalid = map[herald.ErrorCode]bool{
	herald.ErrBadRequest:       true,
	herald.ErrUnknownCommand:   true,
	herald.ErrNotConnected:     true,
	herald.ErrAlreadyConnected: true,
	herald.ErrInvalidChannel:   true,
}

// clientFault lists the disconnects caused by what the client sent; each is
// logged once, when the connection ends.
var clientFault = map[uint16]bool{
	herald.DisconnectMessageTooBig.Code:   true,
	herald.DisconnectInvalidUTF8.Code:     true,
	herald.DisconnectUnsupportedData.Code: true,
	herald.DisconnectBadRequest.Code:      true,
	1002:                                  true, // RFC 6455 protocol error, detected by the transport
}

// fail answers a command with an error, counts it, and cuts off a client
// that keeps sending invalid commands.
func (s *Session) fail(id uint32, err error) {
	e := herald.AsError(err)
	s.hub.m.CommandError(uint32(e.Code), e.Code.Name())
	s.reply(&protocol.Reply{ID: id, Error: &protocol.Error{Code: uint32(e.Code), Message: e.Error(), Temporary: e.Code.Temporary()}})
	if !invalid[e.Code] {
		return
	}
	s.mu.Lock()
	s.errors++
	n := s.errors
	s.mu.Unlock()
	// Log a connection's first invalid command, not every one: a client
	// stuck in a loop must not flood the log.
	if n == 1 {
		s.log().Info("client sent an invalid command", "remote", s.info.RemoteAddr, "transport", s.t.Name(), "code", e.Code.Name(), "error", e.Error())
	}
	if n >= s.hub.cfg.MaxErrors {
		s.log().Info("disconnecting a client that keeps sending invalid commands", "remote", s.info.RemoteAddr, "last_error", e.Error())
		s.Disconnect(herald.DisconnectTooManyErrors)
	}
}

// slow is called when the outbound queue overflows.
func (s *Session) slow() {
	s.hub.m.QueueDrops.Inc()
	s.event(Event{Kind: "slow", Text: fmt.Sprintf("outbound queue passed client.queue_size (%d bytes): the client or its network reads too slowly", s.hub.cfg.QueueSize)})
	s.Disconnect(herald.DisconnectSlow)
}

// Disconnect ends the session: it tells the client why (a disconnect push,
// then the transport's close with the same code) and then unregisters it,
// so that a shutdown waiting for the hub to empty waits for the goodbyes.
func (s *Session) Disconnect(d herald.Disconnect) { s.disconnectIn(d, 0) }

// disconnectIn is Disconnect with advice on when to reconnect (the push's
// reconnect_in, whole milliseconds; 0: none).
func (s *Session) disconnectIn(d herald.Disconnect, in time.Duration) {
	// A slow client's socket is full: do not wait on it to say goodbye.
	// Any other gets what was queued for it first, in order.
	flush := d != herald.DisconnectSlow
	channels, rest, ok := s.markClosed(flush)
	if !ok {
		return
	}
	if flush {
		push := protocol.EncodePush(&protocol.Push{Disconnect: &protocol.DisconnectPush{Code: d.Code, Reason: d.Reason, Reconnect: d.Reconnect, ReconnectIn: uint32(in.Milliseconds())}})
		_ = s.t.Write(append(rest, push))
	}
	_ = s.t.Close(d)
	s.release(channels, &d)
}

// HandleClose is called by the transport when the connection has ended.
func (s *Session) HandleClose(d *herald.Disconnect) {
	if channels, _, ok := s.markClosed(false); ok {
		s.release(channels, d)
	}
}

// closeSilently ends a session whose transport failed.
func (s *Session) closeSilently() {
	if channels, _, ok := s.markClosed(false); ok {
		_ = s.t.Close(herald.DisconnectServerError)
		s.release(channels, nil)
	}
}

// markClosed moves the session to closed, once, and stops its queue. It
// returns the channels to release, with flush what was queued and not yet
// written (see queue.closeFlush), and whether this call closed it.
func (s *Session) markClosed(flush bool) (channels []string, rest [][]byte, ok bool) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return nil, nil, false
	}
	s.state = stateClosed
	s.closedAt = time.Now()
	channels = s.channels
	s.channels = nil
	s.mu.Unlock()
	if flush {
		return channels, s.q.closeFlush(), true
	}
	s.q.close()
	return channels, nil, true
}

// release unregisters a closed session and counts why it ended.
func (s *Session) release(channels []string, d *herald.Disconnect) {
	for _, ch := range channels {
		s.hub.leave(s, ch)
	}
	s.hub.reg.removeID(s.id, s)
	s.hub.reg.unindex(&s.hub.reg.users, s.user, s)
	s.hub.releaseUser(s)
	if d != nil {
		s.hub.m.Disconnect(d.Code, d.Name, s.info.Transport)
		if clientFault[d.Code] {
			s.log().Info("connection closed for bad input", "remote", s.info.RemoteAddr, "transport", s.t.Name(), "code", d.Code, "reason", d.Reason)
		}
	} else {
		s.hub.m.Disconnect(0, "connection_lost", s.info.Transport)
	}
	s.hub.countDisconnect(d)
	s.event(disconnectEvent(d))
	s.hub.gone.add(s.hub.cfg.TimelineKeep, s.describe())
	s.hub.removed(s)
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateClosed
}

// log is the hub's logger with the connection's client and user id: every
// line about a connection carries both, so that one grep finds its story.
func (s *Session) log() *slog.Logger {
	s.mu.Lock()
	client, user := s.id, s.user
	if client == "" {
		client = s.attempt
	}
	s.mu.Unlock()
	return s.hub.log.With("client", client, "user", user)
}

// newClientID returns a random id, unique across nodes without coordination.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clientInfo is what presence and join/leave tell about s.
func (s *Session) clientInfo() herald.ClientInfo {
	return herald.ClientInfo{Client: s.id, User: s.user, Info: s.connInfo}
}

// removeChannel deletes ch from the set without keeping order.
func removeChannel(set []string, ch string) []string {
	i := slices.Index(set, ch)
	if i < 0 {
		return set
	}
	set[i] = set[len(set)-1]
	set[len(set)-1] = ""
	return set[:len(set)-1]
}
