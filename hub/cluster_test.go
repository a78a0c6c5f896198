package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
)

// These tests run two hubs, two "nodes", on one memory broker and one
// memory presence, so that what the server API does across nodes is
// tested without Redis; deploy/ tests the same across real processes.

// sharedBroker hands everything one memory broker delivers to every hub
// started on it: the broker is real, only the fan-out to several handlers
// stands in for pub/sub between processes.
type sharedBroker struct {
	*memory.Broker
	mu   sync.Mutex
	hubs []herald.BrokerHandler
}

func newSharedBroker(t *testing.T) *sharedBroker {
	sb := &sharedBroker{Broker: memory.New()}
	if err := sb.Broker.Start(sb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Broker.Close() })
	return sb
}

func (sb *sharedBroker) each(fn func(herald.BrokerHandler)) {
	sb.mu.Lock()
	hubs := slices.Clone(sb.hubs)
	sb.mu.Unlock()
	for _, h := range hubs {
		fn(h)
	}
}

func (sb *sharedBroker) HandlePublication(ch string, p herald.Publication) {
	sb.each(func(h herald.BrokerHandler) { h.HandlePublication(ch, p) })
}
func (sb *sharedBroker) HandleJoin(ch string, c herald.ClientInfo) {
	sb.each(func(h herald.BrokerHandler) { h.HandleJoin(ch, c) })
}
func (sb *sharedBroker) HandleLeave(ch string, c herald.ClientInfo) {
	sb.each(func(h herald.BrokerHandler) { h.HandleLeave(ch, c) })
}
func (sb *sharedBroker) HandleControl(data []byte) {
	sb.each(func(h herald.BrokerHandler) { h.HandleControl(data) })
}

// node is one hub's view of the shared broker.
type node struct {
	sb *sharedBroker
	h  herald.BrokerHandler
}

func (n *node) Start(h herald.BrokerHandler) error {
	n.sb.mu.Lock()
	defer n.sb.mu.Unlock()
	n.h = h
	n.sb.hubs = append(n.sb.hubs, h)
	return nil
}

// Close stops delivery to this hub only.
func (n *node) Close() error {
	n.sb.mu.Lock()
	defer n.sb.mu.Unlock()
	n.sb.hubs = slices.DeleteFunc(n.sb.hubs, func(h herald.BrokerHandler) bool { return h == n.h })
	return nil
}

func (n *node) Publish(ctx context.Context, ch string, data []byte, o herald.PublishOptions) (herald.StreamPosition, error) {
	return n.sb.Publish(ctx, ch, data, o)
}
func (n *node) PublishJoin(ctx context.Context, ch string, c herald.ClientInfo) error {
	return n.sb.PublishJoin(ctx, ch, c)
}
func (n *node) PublishLeave(ctx context.Context, ch string, c herald.ClientInfo) error {
	return n.sb.PublishLeave(ctx, ch, c)
}
func (n *node) PublishControl(ctx context.Context, data []byte) error {
	return n.sb.PublishControl(ctx, data)
}
func (n *node) History(ctx context.Context, ch string, o herald.HistoryOptions) (herald.HistoryResult, error) {
	return n.sb.History(ctx, ch, o)
}
func (n *node) RemoveHistory(ctx context.Context, ch string) error {
	return n.sb.RemoveHistory(ctx, ch)
}
func (n *node) Subscribe(ctx context.Context, ch string) error   { return n.sb.Subscribe(ctx, ch) }
func (n *node) Unsubscribe(ctx context.Context, ch string) error { return n.sb.Unsubscribe(ctx, ch) }

// userAuth takes the token as the user id: the unit around the hub.
type userAuth struct{}

func (userAuth) Connect(_ context.Context, c hub.Credentials) (hub.Identity, error) {
	return hub.Identity{User: c.Token}, nil
}
func (userAuth) Refresh(_ context.Context, _ string, id hub.Identity, _ string) (hub.Identity, error) {
	return id, nil
}
func (userAuth) Subscribe(context.Context, hub.SubscribeCheck) (hub.SubscribeGrant, error) {
	return hub.SubscribeGrant{}, nil
}
func (userAuth) Publish(context.Context, hub.PublishCheck) (json.RawMessage, error) {
	return nil, nil
}

// cluster is two or more hubs on one shared broker and presence.
type cluster struct {
	sb       *sharedBroker
	presence *memory.Presence
	hubs     []*hub.Hub
}

func newCluster(t *testing.T, n int, tune func(*hub.Config)) *cluster {
	t.Helper()
	c := &cluster{sb: newSharedBroker(t), presence: memory.NewPresence()}
	for range n {
		c.addHub(t, tune)
	}
	return c
}

func (c *cluster) addHub(t *testing.T, tune func(*hub.Config)) *hub.Hub {
	t.Helper()
	cfg := hub.Config{
		Namespaces:    herald.Namespaces{AnyNamespace: true},
		Presence:      c.presence,
		Auth:          userAuth{},
		NodeInterval:  50 * time.Millisecond,
		SurveyTimeout: 5 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if tune != nil {
		tune(&cfg)
	}
	h := hub.New(cfg, &node{sb: c.sb})
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	c.hubs = append(c.hubs, h)
	return h
}

// waitNodes waits until h lists want nodes.
func waitNodes(t *testing.T, h *hub.Hub, want int) []hub.NodeInfo {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes := h.Nodes()
		if len(nodes) == want {
			return nodes
		}
		if time.Now().After(deadline) {
			t.Fatalf("node lists %d nodes, want %d: %+v", len(nodes), want, nodes)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a transport that keeps what the hub writes.
type recorder struct {
	mu     sync.Mutex
	lines  []string
	closed *herald.Disconnect
	wake   chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) Name() string { return "recorder" }

func (r *recorder) Write(msgs [][]byte) error {
	r.mu.Lock()
	for _, m := range msgs {
		r.lines = append(r.lines, string(m))
	}
	r.mu.Unlock()
	r.poke()
	return nil
}

func (r *recorder) Close(d herald.Disconnect) error {
	r.mu.Lock()
	r.closed = &d
	r.mu.Unlock()
	r.poke()
	return nil
}

func (r *recorder) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// wait waits until cond holds for what was written and how it closed.
func (r *recorder) wait(t *testing.T, what string, cond func(lines []string, closed *herald.Disconnect) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r.lines, r.closed)
		lines := strings.Join(r.lines, "\n")
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got:\n%s", what, lines)
		}
	}
}

func (r *recorder) waitLine(t *testing.T, substr string) {
	t.Helper()
	r.wait(t, "a line with "+substr, func(lines []string, _ *herald.Disconnect) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, substr) })
	})
}

func (r *recorder) waitClosed(t *testing.T) herald.Disconnect {
	t.Helper()
	r.wait(t, "the connection to close", func(_ []string, d *herald.Disconnect) bool { return d != nil })
	r.mu.Lock()
	defer r.mu.Unlock()
	return *r.closed
}

// connect opens a session on h as user ("" for anonymous) and returns
// its transport and client id.
func connect(t *testing.T, h *hub.Hub, user string, channels ...string) (*recorder, herald.Session) {
	t.Helper()
	r := newRecorder()
	s, err := h.Accept(r, herald.ConnInfo{RemoteAddr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.HandleClose(nil) })
	tok, _ := json.Marshal(user)
	s.HandleFrame([]byte(`{"id":1,"connect":{"token":` + string(tok) + `}}`))
	for i, ch := range channels {
		id := string(rune('2' + i))
		s.HandleFrame([]byte(`{"id":` + id + `,"subscribe":{"channel":"` + ch + `"}}`))
		r.waitLine(t, `"id":`+id+`,"subscribe"`)
	}
	return r, s
}

func clientID(t *testing.T, r *recorder) string {
	t.Helper()
	r.waitLine(t, `"connect":{`)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		var reply struct {
			Connect *struct {
				Client string `json:"client"`
			} `json:"connect"`
		}
		if json.Unmarshal([]byte(l), &reply) == nil && reply.Connect != nil {
			return reply.Connect.Client
		}
	}
	t.Fatal("no connect reply")
	return ""
}

// Every node lists every live node; one that shuts down leaves the list
// at once, one that stops announcing leaves it after NodeTimeout.
func TestNodesListEveryLiveNode(t *testing.T) {
	c := newCluster(t, 3, func(cfg *hub.Config) { cfg.NodeTimeout = 500 * time.Millisecond })
	a := c.hubs[0]
	connect(t, c.hubs[1], "ann", "room")
	connect(t, c.hubs[1], "bob", "room", "lobby")
	nodes := waitNodes(t, a, 3)
	if nodes[0].ID != a.Info().ID {
		t.Errorf("first node %s, want the asking node %s", nodes[0].ID, a.Info().ID)
	}
	// Counts arrive with the next announcement.
	deadline := time.Now().Add(10 * time.Second)
	for {
		i := slices.IndexFunc(a.Nodes(), func(n hub.NodeInfo) bool { return n.ID == c.hubs[1].Info().ID })
		if i >= 0 {
			n := a.Nodes()[i]
			if n.NumClients == 2 && n.NumUsers == 2 && n.NumChannels == 2 && n.NumSubscriptions == 3 && n.Name != "" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b as a sees it: %+v, want 2 clients, 2 users, 2 channels, 3 subscriptions", a.Nodes())
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := c.hubs[2].Close(); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, a, 2) // node_leave, well before NodeTimeout

	// A node that announced once and went silent: gone after NodeTimeout.
	ghost := `{"op":"node","target":{},"node":{"id":"ghost","name":"ghost","version":"x"}}`
	if err := c.sb.PublishControl(context.Background(), []byte(ghost)); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Nodes()); n != 3 {
		t.Fatalf("after the ghost's announcement a lists %d nodes, want 3", n)
	}
	waitNodes(t, a, 2)
}

// channels sums every node's subscribers; a node that does not answer is
// named, and what the others said is still returned.
func TestSurveyChannelsCoversEveryNode(t *testing.T) {
	c := newCluster(t, 2, func(cfg *hub.Config) { cfg.SurveyTimeout = 300 * time.Millisecond })
	a, b := c.hubs[0], c.hubs[1]
	connect(t, a, "", "news:a", "lobby")
	connect(t, b, "", "news:a", "news:b")
	connect(t, b, "", "news:a")
	waitNodes(t, a, 2)

	res, err := a.SurveyChannels(context.Background(), "news:*")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]hub.ChannelInfo{"news:a": {NumClients: 3}, "news:b": {NumClients: 1}}
	if !mapsEqual(res.Channels, want) || len(res.Missing) != 0 {
		t.Fatalf("survey = %+v, want %v from both nodes", res, want)
	}
	if _, err := a.SurveyChannels(context.Background(), "news:["); herald.AsError(err).Code != herald.ErrBadRequest {
		t.Fatalf("bad pattern: %v, want bad_request", err)
	}

	ghost := `{"op":"node","target":{},"node":{"id":"ghost"}}`
	if err := c.sb.PublishControl(context.Background(), []byte(ghost)); err != nil {
		t.Fatal(err)
	}
	res, err = b.SurveyChannels(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want["lobby"] = hub.ChannelInfo{NumClients: 1}
	if !mapsEqual(res.Channels, want) || !slices.Equal(res.Missing, []string{"ghost"}) {
		t.Fatalf("survey = %+v, want %v and ghost missing", res, want)
	}
}

func mapsEqual(a, b map[string]hub.ChannelInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// subscribe, unsubscribe and disconnect sent to one node act on the
// connections of another.
func TestTargetsReachOtherNodes(t *testing.T) {
	c := newCluster(t, 2, nil)
	a, b := c.hubs[0], c.hubs[1]
	ctx := context.Background()
	ann, _ := connect(t, b, "ann")
	anon, _ := connect(t, b, "")
	anonID := clientID(t, anon)

	if err := a.SubscribeTarget(ctx, hub.Target{User: "ann"}, "room"); err != nil {
		t.Fatal(err)
	}
	ann.waitLine(t, `"channel":"room","sub":{`)
	if err := a.SubscribeTarget(ctx, hub.Target{Client: anonID}, "room"); err != nil {
		t.Fatal(err)
	}
	anon.waitLine(t, `"channel":"room","sub":{`)
	if _, err := a.Publish(ctx, "room", []byte(`"to both"`), hub.PublishRequest{Source: "api"}); err != nil {
		t.Fatal(err)
	}
	ann.waitLine(t, `"to both"`)
	anon.waitLine(t, `"to both"`)

	if err := a.UnsubscribeTarget(ctx, hub.Target{User: "ann"}, "room"); err != nil {
		t.Fatal(err)
	}
	ann.waitLine(t, `"channel":"room","unsub":{`)

	if err := a.DisconnectTarget(ctx, hub.Target{User: "ann"}, herald.DisconnectForceReconnect); err != nil {
		t.Fatal(err)
	}
	if d := ann.waitClosed(t); d.Code != herald.DisconnectForceReconnect.Code {
		t.Fatalf("ann closed with %d, want %d", d.Code, herald.DisconnectForceReconnect.Code)
	}
	if err := a.DisconnectTarget(ctx, hub.Target{Client: anonID}, herald.DisconnectForceDisconnect); err != nil {
		t.Fatal(err)
	}
	if d := anon.waitClosed(t); d.Code != herald.DisconnectForceDisconnect.Code {
		t.Fatalf("anonymous client closed with %d, want %d", d.Code, herald.DisconnectForceDisconnect.Code)
	}
}

// The per-user limit counts the user's connections on every node, and a
// closed connection frees its place wherever it was.
func TestUserLimitCountsEveryNode(t *testing.T) {
	c := newCluster(t, 2, func(cfg *hub.Config) { cfg.UserConnectionLimit = 2 })
	a, b := c.hubs[0], c.hubs[1]
	first, s1 := connect(t, a, "ann")
	first.waitLine(t, `"connect":{`)
	second, _ := connect(t, b, "ann")
	second.waitLine(t, `"connect":{`)

	third, _ := connect(t, b, "ann")
	if d := third.waitClosed(t); d.Code != herald.DisconnectConnectionLimit.Code {
		t.Fatalf("third connection closed with %d, want %d", d.Code, herald.DisconnectConnectionLimit.Code)
	}
	other, _ := connect(t, a, "bob") // other users are not affected
	other.waitLine(t, `"connect":{`)

	s1.HandleClose(nil)
	again, _ := connect(t, b, "ann")
	again.waitLine(t, `"connect":{`)
	st, err := c.presence.PresenceStats(context.Background(), "$herald:user:ann")
	if err != nil || st.NumClients != 2 {
		t.Fatalf("ann's count: %+v, %v; want 2", st, err)
	}
}

// flakyPresence keeps every entry but answers AddPresence with an error,
// as a shared store does that remembers an entry Redis could not take to
// add it at its next refresh.
type flakyPresence struct{ m *memory.Presence }

func (p flakyPresence) AddPresence(ctx context.Context, ch string, c herald.ClientInfo) error {
	_ = p.m.AddPresence(ctx, ch, c)
	return errors.New("store down")
}
func (p flakyPresence) RemovePresence(ctx context.Context, ch, client string) error {
	return p.m.RemovePresence(ctx, ch, client)
}
func (p flakyPresence) Presence(ctx context.Context, ch string) (map[string]herald.ClientInfo, error) {
	return p.m.Presence(ctx, ch)
}
func (p flakyPresence) PresenceStats(ctx context.Context, ch string) (herald.PresenceStats, error) {
	return p.m.PresenceStats(ctx, ch)
}

// With the store failing, a user is admitted on this node's limit alone,
// and a closed connection's entry is removed all the same, so that the
// store's refresh cannot bring it back to count forever.
func TestUserLimitWithStoreDown(t *testing.T) {
	store := flakyPresence{memory.NewPresence()}
	c := newCluster(t, 1, func(cfg *hub.Config) { cfg.UserConnectionLimit = 1; cfg.Presence = store })
	r, s := connect(t, c.hubs[0], "ann")
	r.waitLine(t, `"connect":{`)
	if st, _ := store.PresenceStats(context.Background(), "$herald:user:ann"); st.NumClients != 1 {
		t.Fatalf("ann's entry: %+v, want the one the store kept", st)
	}
	s.HandleClose(nil)
	if st, _ := store.PresenceStats(context.Background(), "$herald:user:ann"); st.NumClients != 0 {
		t.Fatalf("ann's entry after close: %+v, want none", st)
	}
}
