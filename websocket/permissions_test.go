package websocket_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/hooks"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
	"github.com/heraldrt/herald/websocket"
)

// The kinds of connection the permission matrix tries.
const (
	anonymous      = "anonymous"
	user           = "user"            // authenticated as 42, not subscribed
	anonSubscriber = "anon-subscriber" // anonymous, subscribed to the channel
	userSubscriber = "user-subscriber" // 42, subscribed to the channel
)

var kinds = []string{anonymous, user, anonSubscriber, userSubscriber}

// TestPermissionMatrix tries every action (subscribe, publish, history,
// presence) at every access level that applies to it, from every kind of
// connection, each in a namespace of its own.
func TestPermissionMatrix(t *testing.T) {
	b := newHookBackend(t)
	named := map[string]herald.NamespaceOptions{}
	add := func(name string, o herald.NamespaceOptions) {
		o.HistorySize, o.HistoryTTL, o.Presence = 10, time.Minute, true
		named[name] = o
	}
	levels := map[string][]herald.Access{
		"subscribe": {herald.AccessAnyone, herald.AccessUser, herald.AccessToken},
		"publish":   {herald.AccessAnyone, herald.AccessUser, herald.AccessSubscriber, herald.AccessHook},
		"history":   {herald.AccessAnyone, herald.AccessUser, herald.AccessSubscriber},
		"presence":  {herald.AccessAnyone, herald.AccessUser, herald.AccessSubscriber},
	}
	for action, ls := range levels {
		for _, l := range ls {
			o := herald.NamespaceOptions{AllowPublish: true}
			switch action {
			case "subscribe":
				o.SubscribeAccess = l
			case "publish":
				o.PublishAccess = l
			case "history":
				o.HistoryAccess = l
			case "presence":
				o.PresenceAccess = l
			}
			add(action+"_"+string(l), o)
		}
	}
	add("publish_off", herald.NamespaceOptions{AllowPublish: false})
	ts, _ := startAuthServer(t, hub.Config{Namespaces: herald.Namespaces{Named: named}, Presence: memory.NewPresence()},
		authn.Options{
			Verifier:  newVerifier(t, auth.Config{}),
			Hooks:     hooksClient(t, b, hooks.Config{PublishURL: "/publish"}),
			Anonymous: true,
		}, websocket.Options{})

	const ok = herald.ErrorCode(0)
	deny, notSub := herald.ErrPermissionDenied, herald.ErrNotSubscribed
	// want[action][level] lists the outcome per kind, in the order of kinds.
	readRules := map[herald.Access][4]herald.ErrorCode{
		herald.AccessAnyone:     {ok, ok, ok, ok},
		herald.AccessUser:       {deny, ok, deny, ok},
		herald.AccessSubscriber: {notSub, notSub, ok, ok},
	}
	want := map[string]map[herald.Access][4]herald.ErrorCode{
		// Subscribing as a subscriber would only say "already
		// subscribed": those kinds are not tried.
		"subscribe": {
			herald.AccessAnyone: {ok, ok},
			herald.AccessUser:   {deny, ok},
			herald.AccessToken:  {deny, deny}, // without a token (see TestSubscriptionTokens)
		},
		"publish": {
			herald.AccessAnyone:     {ok, ok, ok, ok},
			herald.AccessUser:       {deny, ok, deny, ok},
			herald.AccessSubscriber: {notSub, notSub, ok, ok},
			herald.AccessHook:       {deny, ok, deny, ok}, // the backend refuses anonymous posts
			"off":                   {deny, deny, deny, deny},
		},
		"history":  readRules,
		"presence": readRules,
	}
	bodies := map[string]string{
		"subscribe": `{"channel":%q}`,
		"publish":   `{"channel":%q,"data":{"text":"hi"},"echo":false}`,
		"history":   `{"channel":%q,"limit":10}`,
		"presence":  `{"channel":%q}`,
	}

	n := 0
	for action, byLevel := range want {
		for level, outcomes := range byLevel {
			for i, kind := range kinds {
				if action == "subscribe" && i >= 2 {
					continue
				}
				n++
				name := fmt.Sprintf("%s/%s/%s", action, level, kind)
				t.Run(name, func(t *testing.T) {
					ns := action + "_" + string(level)
					if level == "off" {
						ns = "publish_off"
					}
					channel := ns + ":" + kind
					c := dial(t, ts, nil)
					var id string
					if kind == user || kind == userSubscriber {
						id = c.connectAs("42")["client"].(string)
					} else {
						id = c.connectID()
					}
					if kind == anonSubscriber || kind == userSubscriber {
						// A subscription the server makes, so that the
						// namespace's subscribe access does not interfere.
						if err := ts.hub.SubscribeTarget(t.Context(), hub.Target{Client: id}, channel); err != nil {
							t.Fatal(err)
						}
						if push := c.next(); push["sub"] == nil {
							t.Fatalf("got %v, want the sub push", push)
						}
					}
					r := c.call(action, fmt.Sprintf(bodies[action], channel))
					if got := errorCode(r); got != outcomes[i] {
						t.Fatalf("got %v, want %s", r, outcomeName(outcomes[i]))
					}
					if outcomes[i] == ok && r[action] == nil {
						t.Fatalf("got %v, want a %s result", r, action)
					}
				})
			}
		}
	}
	if n != 2*3+4*5+4*3+4*3 {
		t.Fatalf("%d combinations tried", n)
	}
	if got := b.count("/publish"); got != 4 {
		t.Errorf("the publish hook was called %d times, want once per kind in publish_hook only", got)
	}
}

func outcomeName(c herald.ErrorCode) string {
	if c == 0 {
		return "success"
	}
	return fmt.Sprintf("error %d (%s)", c, c.Name())
}

// TestUserLimitedChannels: "dm:chat#42,43" admits users 42 and 43 only,
// whatever the namespace's access levels say; the personal channel is
// subscribed at connect and admits its user only.
func TestUserLimitedChannels(t *testing.T) {
	ts, _ := startAuthServer(t, hub.Config{
		Namespaces: herald.Namespaces{Named: map[string]herald.NamespaceOptions{
			"dm": {AllowPublish: true, HistorySize: 10, HistoryTTL: time.Minute,
				PublishAccess: herald.AccessAnyone, HistoryAccess: herald.AccessAnyone},
			"personal": {},
		}},
		PersonalNamespace: "personal",
	}, authn.Options{Verifier: newVerifier(t, auth.Config{}), Anonymous: true}, websocket.Options{})

	const dm = "dm:chat#42,43"
	for _, u := range []string{"42", "43"} {
		c := dial(t, ts, nil)
		c.connectAs(u)
		if push := c.next(); push["sub"] == nil || push["channel"] != "personal:#"+u {
			t.Fatalf("user %s: got %v, want the sub push of personal:#%s", u, push, u)
		}
		c.subscribe(dm)
	}
	for _, who := range []string{"44", ""} {
		c := dial(t, ts, nil)
		if who == "" {
			c.connect()
		} else {
			c.connectAs(who)
			c.next() // its own personal channel
		}
		errorCodeIs(t, c.call("subscribe", `{"channel":"`+dm+`"}`), herald.ErrPermissionDenied)
		errorCodeIs(t, c.call("publish", `{"channel":"`+dm+`","data":1}`), herald.ErrPermissionDenied)
		errorCodeIs(t, c.call("history", `{"channel":"`+dm+`"}`), herald.ErrPermissionDenied)
		errorCodeIs(t, c.call("subscribe", `{"channel":"personal:#42"}`), herald.ErrPermissionDenied)
		// A list cannot be widened by adding to the name: the users are
		// those after the last '#'.
		errorCodeIs(t, c.call("subscribe", `{"channel":"dm:chat#44#42,43"}`), herald.ErrPermissionDenied)
	}

	// The personal channel carries the API's publications to the user.
	c := dial(t, ts, nil)
	c.connectAs("42")
	c.next()
	ts.publish(t, "personal:#42", `{"note":"for Ann"}`)
	pubPush(t, c.next(), "personal:#42")
}

// TestUserConnectionLimit: the connection over the per-user limit is
// closed with 4504, other users are not counted against it, and the API's
// disconnect of a user closes all of that user's connections and no one
// else's.
func TestUserConnectionLimit(t *testing.T) {
	ts, _ := startAuthServer(t, hub.Config{UserConnectionLimit: 2},
		authn.Options{Verifier: newVerifier(t, auth.Config{})}, websocket.Options{})
	a1, a2 := dial(t, ts, nil), dial(t, ts, nil)
	a1.connectAs("42")
	a2.connectAs("42")
	third := dial(t, ts, nil)
	third.send(`{"id":1,"connect":{"token":"` + mint(t, auth.MintClaims{User: "42"}) + `"}}`)
	if push := third.next(); push["disconnect"] == nil || push["disconnect"].(map[string]any)["code"] != float64(4504) {
		t.Fatalf("third connection: got %v, want a 4504 disconnect push", push)
	}
	third.closedWith(4504)
	other := dial(t, ts, nil)
	other.connectAs("43")
	a1.alive()

	if err := ts.hub.DisconnectTarget(t.Context(), hub.Target{User: "42"}, herald.DisconnectForceDisconnect); err != nil {
		t.Fatal(err)
	}
	a1.closedWith(4503)
	a2.closedWith(4503)
	other.alive()
	// The limit counts live connections: once 42's are gone (the close
	// frame may overtake the unregistering), 42 may come back.
	for deadline := time.Now().Add(5 * time.Second); ts.hub.Info().NumClients > 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections left, want 1", ts.hub.Info().NumClients)
		}
	}
	again := dial(t, ts, nil)
	again.connectAs("42")
}
