package client

// This file runs the language-neutral scenarios of clients/scenarios (the
// format is in its README.md) against the Go client: a scripted server on
// a real loopback WebSocket, and real time shortened tenfold (the
// scenario's milliseconds and the server's seconds alike), so that the
// same files that the TypeScript client runs on virtual time prove the
// same behaviour here. Lower bounds of the time windows are checked
// exactly; upper bounds get a margin for a loaded machine, because the
// TypeScript runner checks them exactly already.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cws "github.com/coder/websocket"
)

// scenarioScale is how many scenario milliseconds pass in one real one.
const scenarioScale = 10

// scenarioSlack is how late past its window an expectation may still
// come: a deadlock guard for a loaded machine, not an assertion.
const scenarioSlack = 10 * time.Second

type scenario struct {
	Name          string                     `json:"name"`
	Options       map[string]json.RawMessage `json:"options"`
	Subscriptions []struct {
		Channel  string            `json:"channel"`
		Since    *Position         `json:"since"`
		Token    string            `json:"token"`
		GetToken []json.RawMessage `json:"getToken"`
	} `json:"subscriptions"`
	For   map[string][]json.RawMessage `json:"for"`
	Steps []map[string]any             `json:"steps"`
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in ../scenarios: %v", err)
	}
	sort.Strings(files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range expandScenario(t, raw) {
			t.Run(filepath.Base(f)+": "+sc.Name, func(t *testing.T) {
				t.Parallel()
				runScenario(t, sc)
			})
		}
	}
}

// expandScenario makes one run per value of "for", with every string
// "$KEY" replaced by the value.
func expandScenario(t *testing.T, raw []byte) []scenario {
	var sc scenario
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.For) == 0 {
		return []scenario{sc}
	}
	var out []scenario
	for key, values := range sc.For {
		for _, v := range values {
			s := strings.ReplaceAll(string(raw), `"$`+key+`"`, string(v))
			var one scenario
			if err := json.Unmarshal([]byte(s), &one); err != nil {
				t.Fatal(err)
			}
			one.Name = fmt.Sprintf("%s (%s %s)", sc.Name, key, v)
			out = append(out, one)
		}
	}
	return out
}

// wireItem is one thing the client did on the wire.
type wireItem struct {
	dial      *pendingDial
	frame     map[string]any
	message   int // which WebSocket message the frame came in
	closed    bool
	closeCode int
}

func (w wireItem) String() string {
	switch {
	case w.dial != nil:
		return "dial"
	case w.closed:
		return fmt.Sprintf("closed %d", w.closeCode)
	}
	b, _ := json.Marshal(w.frame)
	return string(b)
}

// scenarioRun holds a scenario's server side and what the client did.
type scenarioRun struct {
	t      *testing.T
	mu     sync.Mutex
	wire   []wireItem
	events []map[string]any
	wake   chan struct{}
	done   chan struct{} // closed at the end: handlers still waiting give up
	msgs   int
	all    []*serverConn
	// The runner's own, touched only by its goroutine:
	dial *pendingDial // the handshake the last dial step saw, until accepted or dropped
	conn *serverConn  // the accepted connection
	ids  map[string]any
}

// pendingDial is a handshake the server holds until the scenario says.
type pendingDial struct {
	protocol string
	decide   chan bool // true: accept the handshake
	conn     chan *serverConn
}

// serverConn is the server's end of one accepted connection.
type serverConn struct {
	ws *cws.Conn
	mu sync.Mutex
	// byServer: the scenario closed or dropped it, so the reader does not
	// report the end as the client's close.
	byServer bool
}

// serve holds each handshake until the scenario accepts or drops it, then
// reads the client's messages into the wire queue.
func (r *scenarioRun) serve(w http.ResponseWriter, req *http.Request) {
	d := &pendingDial{protocol: req.Header.Get("Sec-WebSocket-Protocol"), decide: make(chan bool), conn: make(chan *serverConn, 1)}
	r.push(&wireItem{dial: d}, nil)
	select {
	case ok := <-d.decide:
		if !ok {
			http.Error(w, "the scenario drops this handshake", http.StatusServiceUnavailable)
			return
		}
	case <-r.done:
		return
	}
	ws, err := cws.Accept(w, req, &cws.AcceptOptions{Subprotocols: []string{"herald.json"}})
	if err != nil {
		d.conn <- nil
		return
	}
	sc := &serverConn{ws: ws}
	r.mu.Lock()
	r.all = append(r.all, sc)
	r.mu.Unlock()
	d.conn <- sc
	for {
		_, msg, err := ws.Read(context.Background())
		if err != nil {
			sc.mu.Lock()
			byServer := sc.byServer
			sc.mu.Unlock()
			if !byServer {
				code := int(cws.CloseStatus(err))
				if code < 0 {
					code = 1006
				}
				r.push(&wireItem{closed: true, closeCode: code}, nil)
			}
			return
		}
		// All lines of a message are queued at once, so that "together" sees them.
		r.mu.Lock()
		r.msgs++
		for _, line := range strings.Split(string(msg), "\n") {
			var f map[string]any
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				f = map[string]any{"invalid JSON": line}
			}
			r.wire = append(r.wire, wireItem{frame: f, message: r.msgs})
		}
		r.mu.Unlock()
		r.push(nil, nil)
	}
}

// accept lets the held handshake complete, or fails it.
func (r *scenarioRun) accept(ok bool) {
	if r.dial == nil {
		r.t.Fatal("accept or drop with no handshake waiting: add a dial step first")
	}
	d := r.dial
	r.dial = nil
	d.decide <- ok
	if ok {
		if r.conn = <-d.conn; r.conn == nil {
			r.t.Fatal("the WebSocket handshake failed")
		}
	}
}

// end marks the connection as ended by the server before it ends it.
func (sc *serverConn) end(f func()) {
	sc.mu.Lock()
	sc.byServer = true
	sc.mu.Unlock()
	f()
}

func (r *scenarioRun) push(w *wireItem, e map[string]any) {
	r.mu.Lock()
	if w != nil {
		r.wire = append(r.wire, *w)
	}
	if e != nil {
		r.events = append(r.events, e)
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func runScenario(t *testing.T, sc scenario) {
	run := &scenarioRun{t: t, wake: make(chan struct{}, 1), done: make(chan struct{}), ids: map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(run.serve))
	defer srv.Close()

	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond) / scenarioScale) }
	opts := &Options{second: time.Second / scenarioScale}
	for k, v := range sc.Options {
		var n float64
		switch k {
		case "token":
			json.Unmarshal(v, &opts.Token)
		case "getToken":
			var list []json.RawMessage
			json.Unmarshal(v, &list)
			tokens := scenarioTokens(list)
			opts.GetToken = func(context.Context) (string, error) { return tokens() }
		case "minReconnectDelay", "maxReconnectDelay", "pingGrace", "connectTimeout":
			json.Unmarshal(v, &n)
			*map[string]*time.Duration{
				"minReconnectDelay": &opts.MinReconnectDelay, "maxReconnectDelay": &opts.MaxReconnectDelay,
				"pingGrace": &opts.PingGrace, "connectTimeout": &opts.ConnectTimeout,
			}[k] = ms(n)
		default:
			t.Fatalf("unknown option %q", k)
		}
	}
	opts.OnConnecting = func(e ConnectingEvent) {
		run.push(nil, map[string]any{"type": "connecting", "code": e.Code, "reason": e.Reason})
	}
	opts.OnConnected = func(e ConnectedEvent) {
		run.push(nil, map[string]any{"type": "connected", "client": e.ClientID, "user": e.User, "ping": int(e.PingInterval / opts.second)})
	}
	opts.OnDisconnected = func(e DisconnectedEvent) {
		run.push(nil, map[string]any{"type": "disconnected", "code": e.Code, "reason": e.Reason})
	}
	opts.OnError = func(err error) { run.push(nil, scenarioError(err)) }
	c := New(strings.Replace(srv.URL, "http://", "ws://", 1), opts)

	subs := map[string]*Subscription{}
	for _, s := range sc.Subscriptions {
		ch := s.Channel
		so := &SubscriptionOptions{Since: s.Since, Token: s.Token}
		if s.GetToken != nil {
			tokens := scenarioTokens(s.GetToken)
			so.GetToken = func(context.Context, string) (string, error) { return tokens() }
		}
		so.OnSubscribing = func(e SubscribingEvent) {
			run.push(nil, map[string]any{"type": "subscribing", "channel": ch, "code": e.Code, "reason": e.Reason})
		}
		so.OnUnsubscribed = func(e UnsubscribedEvent) {
			run.push(nil, map[string]any{"type": "unsubscribed", "channel": ch, "code": e.Code, "reason": e.Reason})
		}
		so.OnSubscribed = func(e SubscribedEvent) {
			run.push(nil, map[string]any{"type": "subscribed", "channel": ch, "wasRecovering": e.WasRecovering,
				"recovered": e.Recovered, "recoverable": e.Recoverable, "offset": e.Offset, "epoch": e.Epoch})
		}
		so.OnPublication = func(p Publication) {
			ev := map[string]any{"type": "publication", "channel": ch}
			var data any
			json.Unmarshal(p.Data, &data)
			ev["data"] = data
			if p.Offset != 0 {
				ev["offset"], ev["epoch"] = p.Offset, p.Epoch
			}
			run.push(nil, ev)
		}
		sub, err := c.NewSubscription(ch, so)
		if err != nil {
			t.Fatal(err)
		}
		subs[ch] = sub
	}

	ctx, cancel := context.WithCancel(context.Background())
	var calls sync.WaitGroup
	defer func() {
		cancel()
		c.Close()
		calls.Wait()
		close(run.done)
		run.mu.Lock()
		for _, sc := range run.all {
			sc.end(func() { sc.ws.CloseNow() })
		}
		run.mu.Unlock()
	}()

	acted := time.Now()
	for i, step := range sc.Steps {
		fail := func(format string, args ...any) {
			run.mu.Lock()
			defer run.mu.Unlock()
			t.Fatalf("step %d %v: %s\nwire left: %v\nevents left: %v", i+1, step, fmt.Sprintf(format, args...), run.wire, run.events)
		}
		within := func(v any) (time.Duration, time.Duration) {
			w, _ := v.([]any)
			if len(w) != 2 {
				return 0, 0
			}
			return ms(w[0].(float64)), ms(w[1].(float64))
		}
		// waitFor waits for pick to find something within the window, counted from the last action.
		waitFor := func(window any, pick func() bool) {
			lo, hi := within(window)
			deadline := acted.Add(hi + scenarioSlack)
			for {
				run.mu.Lock()
				ok := pick()
				run.mu.Unlock()
				if ok {
					if d := time.Since(acted); d < lo {
						fail("came after %v, earlier than %v", d, lo)
					}
					return
				}
				select {
				case <-run.wake:
				case <-time.After(time.Until(deadline)):
					fail("did not happen within %v (+%v)", hi, scenarioSlack)
				}
			}
		}
		switch {
		case step["call"] != nil:
			acted = time.Now()
			ch, _ := step["channel"].(string)
			switch step["call"] {
			// Connect and Subscribe block until done: the runner goes on
			// once they have changed the state, so that calls keep their order.
			case "connect":
				calls.Add(1)
				go func() { defer calls.Done(); c.Connect(ctx) }()
				waitState(t, func() bool { return c.State() != Disconnected })
			case "disconnect":
				c.Close()
			case "subscribe":
				calls.Add(1)
				go func() { defer calls.Done(); subs[ch].Subscribe(ctx) }()
				waitState(t, func() bool { return subs[ch].State() != Unsubscribed })
			case "unsubscribe":
				subs[ch].Unsubscribe(ctx)
			default:
				fail("unknown call")
			}
		case step["dial"] != nil:
			m, _ := step["dial"].(map[string]any)
			waitFor(m["within"], func() bool {
				if len(run.wire) > 0 && run.wire[0].dial != nil {
					run.dial, run.wire = run.wire[0].dial, run.wire[1:]
					return true
				}
				return false
			})
			if run.dial.protocol != "herald.json" {
				fail("offered %q, not herald.json", run.dial.protocol)
			}
		case step["accept"] != nil:
			acted = time.Now()
			run.accept(true)
		case step["send"] != nil:
			acted = time.Now()
			frames, ok := step["send"].([]any)
			if !ok {
				frames = []any{step["send"]}
			}
			var lines []string
			for _, f := range frames {
				if s, ok := f.(string); ok {
					lines = append(lines, s)
					continue
				}
				b, _ := json.Marshal(bind(t, f, run.ids))
				lines = append(lines, string(b))
			}
			run.conn.ws.Write(context.Background(), cws.MessageText, []byte(strings.Join(lines, "\n")))
		case step["close"] != nil:
			acted = time.Now()
			m := step["close"].(map[string]any)
			code, _ := m["code"].(float64)
			reason, _ := m["reason"].(string)
			// Close waits for the client's close frame; the runner goes on.
			sc := run.conn
			sc.end(func() { go sc.ws.Close(cws.StatusCode(code), reason) })
		case step["drop"] != nil:
			acted = time.Now()
			if run.dial != nil {
				run.accept(false)
			} else {
				sc := run.conn
				sc.end(func() { sc.ws.CloseNow() })
			}
		case step["expect"] != nil:
			var got wireItem
			waitFor(step["within"], func() bool {
				if len(run.wire) > 0 && run.wire[0].frame != nil {
					got, run.wire = run.wire[0], run.wire[1:]
					return true
				}
				return false
			})
			if why := match(step["expect"], got.frame, run.ids, ""); why != "" {
				fail("the client sent %v: %s", got.frame, why)
			}
			if step["together"] == true {
				run.mu.Lock()
				alone := len(run.wire) == 0 || run.wire[0].message != got.message
				run.mu.Unlock()
				if alone {
					fail("it came alone, not in one message with the next")
				}
			}
		case step["closed"] != nil:
			m, _ := step["closed"].(map[string]any)
			waitFor(m["within"], func() bool {
				if len(run.wire) > 0 && run.wire[0].closed {
					if want, ok := m["code"].(float64); ok && int(want) != run.wire[0].closeCode {
						fail("closed with %d, not %v", run.wire[0].closeCode, want)
					}
					run.wire = run.wire[1:]
					return true
				}
				return false
			})
			acted = time.Now()
		case step["event"] != nil:
			var got map[string]any
			waitFor(step["within"], func() bool {
				if len(run.events) > 0 {
					got, run.events = run.events[0], run.events[1:]
					return true
				}
				return false
			})
			if why := match(step["event"], normalize(got), run.ids, ""); why != "" {
				fail("the client reported %v: %s", got, why)
			}
		case step["advance"] != nil:
			time.Sleep(ms(step["advance"].(float64)))
		case step["quiet"] != nil:
			run.mu.Lock()
			busy := len(run.wire) > 0 || len(run.events) > 0
			run.mu.Unlock()
			if busy {
				fail("the client did more than the scenario expects")
			}
		default:
			fail("unknown step")
		}
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	if len(run.wire) > 0 || len(run.events) > 0 {
		t.Fatalf("the client did more than the scenario expects:\nwire: %v\nevents: %v", run.wire, run.events)
	}
}

// waitState waits for a call made on another goroutine to take effect.
func waitState(t *testing.T, done func() bool) {
	deadline := time.Now().Add(scenarioSlack)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("the call did not change the state within %v", scenarioSlack)
		}
		time.Sleep(time.Millisecond)
	}
}

// scenarioTokens answers a getToken with the scenario's list, in order: a
// string is a token, {"error": "..."} a failure.
func scenarioTokens(list []json.RawMessage) func() (string, error) {
	var mu sync.Mutex
	i := 0
	return func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(list) {
			return "", errors.New("the scenario has no more tokens")
		}
		raw := list[i]
		i++
		var tok string
		if json.Unmarshal(raw, &tok) == nil {
			return tok, nil
		}
		var e struct{ Error string }
		json.Unmarshal(raw, &e)
		return "", errors.New(e.Error)
	}
}

// scenarioError turns a reported error into the scenario's plain form.
func scenarioError(err error) map[string]any {
	var (
		gap *GapError
		tok *TokenError
		ref *RefreshError
		sub *SubscribeError
		rep *Error
	)
	ev := map[string]any{"type": "error"}
	switch {
	case errors.As(err, &gap):
		ev["kind"], ev["channel"], ev["expected"], ev["got"] = "gap", gap.Channel, gap.Expected, gap.Got
	case errors.As(err, &tok):
		ev["kind"] = "token"
		if tok.Channel != "" {
			ev["channel"] = tok.Channel
		}
	case errors.As(err, &ref):
		ev["kind"], ev["code"], ev["retrying"] = "refresh", ref.Err.Code, ref.Retrying
		if ref.Channel != "" {
			ev["channel"] = ref.Channel
		}
	case errors.As(err, &sub):
		ev["kind"], ev["code"], ev["channel"] = "subscribe", sub.Err.Code, sub.Channel
	case errors.As(err, &rep):
		ev["kind"], ev["code"] = "connect", rep.Code
	default:
		// A failed attempt: "herald: connect: CODE reason", or a dial error.
		ev["kind"] = "connect"
		var code int
		if _, err := fmt.Sscanf(err.Error(), "herald: connect: %d", &code); err == nil {
			ev["code"] = code
		}
	}
	return ev
}

// normalize gives an event the types JSON decoding gives a pattern.
func normalize(e map[string]any) map[string]any {
	b, _ := json.Marshal(e)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// bind replaces "$id:NAME" in a server frame by the id the client used.
func bind(t *testing.T, x any, ids map[string]any) any {
	switch v := x.(type) {
	case string:
		if strings.HasPrefix(v, "$id:") {
			id, ok := ids[v]
			if !ok {
				t.Fatalf("%s was not bound by an earlier expect", v)
			}
			return id
		}
	case []any:
		out := make([]any, len(v))
		for i, y := range v {
			out[i] = bind(t, y, ids)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, y := range v {
			out[k] = bind(t, y, ids)
		}
		return out
	}
	return x
}

// match checks got against a pattern, as clients/scenarios/README.md says:
// objects match when each of the pattern's keys does, null means absent,
// "$any" is any value and "$id:NAME" binds or checks an id.
func match(want, got any, ids map[string]any, path string) string {
	name := path
	if name == "" {
		name = "value"
	}
	switch w := want.(type) {
	case nil:
		if got != nil {
			return name + " should be absent"
		}
		return ""
	case string:
		if w == "$any" {
			if got == nil {
				return name + " is missing"
			}
			return ""
		}
		if strings.HasPrefix(w, "$id:") {
			n, ok := got.(float64)
			if !ok || n <= 0 {
				return name + " is not an id"
			}
			if b, ok := ids[w]; ok && b != got {
				return fmt.Sprintf("%s is %v, not %s=%v", name, got, w, b)
			}
			ids[w] = got
			return ""
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s is not an array of %d", name, len(w))
		}
		for i := range w {
			if why := match(w[i], g[i], ids, fmt.Sprintf("%s[%d]", path, i)); why != "" {
				return why
			}
		}
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return name + " is not an object"
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if why := match(w[k], g[k], ids, p); why != "" {
				return why
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s is %v, not %v", name, got, want)
	}
	return ""
}
