package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
)

// wantPush checks the session's next message.
func (sub *subscriber) wantPush(t *testing.T, want string) {
	t.Helper()
	if got := string(sub.next(t)); got != want {
		t.Errorf("push = %s, want %s", got, want)
	}
}

// TestSubscribeUnsubscribe: the server subscribes a connection, which is
// told and then gets the channel's publications, until the server
// unsubscribes it. Connections are anonymous for now, so they are named by
// client id.
func TestSubscribeUnsubscribe(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	a := e.subscribe(t)
	b := e.subscribe(t)

	wantBody(t, e.post(t, "subscribe", fmt.Sprintf(`{"client":%q,"channel":"news:x"}`, a.id)), `{}`)
	a.wantPush(t, `{"channel":"news:x","sub":{}}`)
	e.post(t, "publish", `{"channel":"news:x","data":1}`)
	a.wantPush(t, `{"channel":"news:x","pub":{"data":1}}`)

	wantBody(t, e.post(t, "unsubscribe", fmt.Sprintf(`{"client":%q,"channel":"news:x"}`, a.id)), `{}`)
	a.wantPush(t, `{"channel":"news:x","unsub":{}}`)
	e.post(t, "publish", `{"channel":"news:x","data":2}`)
	// A later push proves that the publication was not queued before it.
	wantBody(t, e.post(t, "subscribe", fmt.Sprintf(`{"client":%q,"channel":"news:y"}`, a.id)), `{}`)
	a.wantPush(t, `{"channel":"news:y","sub":{}}`)
	a.none(t)
	b.none(t)
}

// TestSubscribeHistory: a server-side subscription to a channel with
// history tells the connection the position it starts from.
func TestSubscribeHistory(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	epoch := e.publishN(t, "history:a", 2)
	a := e.subscribe(t)
	wantBody(t, e.post(t, "subscribe", fmt.Sprintf(`{"client":%q,"channel":"history:a"}`, a.id)), `{}`)
	a.wantPush(t, fmt.Sprintf(`{"channel":"history:a","sub":{"offset":2,"epoch":%q,"recoverable":true}}`, epoch))
}

func TestDisconnect(t *testing.T) {
	tests := []struct {
		name, params, want string
	}{
		{"default", ``, `{"code":4503,"reason":"disconnected by the server","reconnect":false}`},
		{"catalog reason", `,"code":4006`, `{"code":4006,"reason":"reconnect requested","reconnect":true}`},
		{"custom reason", `,"code":4000,"reason":"deploying v2"`, `{"code":4000,"reason":"deploying v2","reconnect":true}`},
		{"custom reason, default code", `,"reason":"banned"`, `{"code":4503,"reason":"banned","reconnect":false}`},
		{"100-byte reason", `,"reason":"` + strings.Repeat("r", 100) + `"`, `{"code":4503,"reason":"` + strings.Repeat("r", 100) + `","reconnect":false}`},
	}
	e := newEnv(t, api.Options{Key: testKey})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.subscribe(t, "news:a")
			other := e.subscribe(t, "news:a")
			wantBody(t, e.post(t, "disconnect", fmt.Sprintf(`{"client":%q%s}`, a.id, tt.params)), `{}`)
			a.wantPush(t, `{"disconnect":`+tt.want+`}`)
			// The other connection stays: it still gets publications.
			e.post(t, "publish", `{"channel":"news:a","data":1}`)
			other.wantPush(t, `{"channel":"news:a","pub":{"data":1}}`)
			a.none(t)
		})
	}
}

func TestTargetErrors(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	a := e.subscribe(t)
	client := fmt.Sprintf(`"client":%q`, a.id)
	tests := []struct {
		name, method, body string
		code               herald.ErrorCode
	}{
		{"subscribe anonymous user", "subscribe", `{"user":"","channel":"news:a"}`, herald.ErrBadRequest},
		{"subscribe no target", "subscribe", `{"channel":"news:a"}`, herald.ErrBadRequest},
		{"subscribe both targets", "subscribe", `{"user":"u1",` + client + `,"channel":"news:a"}`, herald.ErrBadRequest},
		{"subscribe channel missing", "subscribe", `{` + client + `}`, herald.ErrInvalidChannel},
		{"subscribe invalid channel", "subscribe", `{` + client + `,"channel":"news:a b"}`, herald.ErrInvalidChannel},
		{"subscribe unknown namespace", "subscribe", `{` + client + `,"channel":"nope:a"}`, herald.ErrUnknownNamespace},
		{"subscribe unknown field", "subscribe", `{` + client + `,"channels":["news:a"]}`, herald.ErrBadRequest},
		{"unsubscribe anonymous user", "unsubscribe", `{"user":"","channel":"news:a"}`, herald.ErrBadRequest},
		{"unsubscribe no target", "unsubscribe", `{"channel":"news:a"}`, herald.ErrBadRequest},
		{"unsubscribe invalid channel", "unsubscribe", `{` + client + `,"channel":"news:a b"}`, herald.ErrInvalidChannel},
		{"disconnect anonymous user", "disconnect", `{"user":""}`, herald.ErrBadRequest},
		{"disconnect no target", "disconnect", `{}`, herald.ErrBadRequest},
		{"disconnect both targets", "disconnect", `{"user":"u1",` + client + `}`, herald.ErrBadRequest},
		{"disconnect code not in the catalog", "disconnect", `{` + client + `,"code":4999}`, herald.ErrBadRequest},
		{"disconnect code below 4000", "disconnect", `{` + client + `,"code":1009}`, herald.ErrBadRequest},
		{"disconnect code beyond uint16", "disconnect", `{` + client + `,"code":70003}`, herald.ErrBadRequest},
		{"disconnect negative code", "disconnect", `{` + client + `,"code":-1}`, herald.ErrBadRequest},
		{"disconnect code as a string", "disconnect", `{` + client + `,"code":"4503"}`, herald.ErrBadRequest},
		{"disconnect reason too long", "disconnect", `{` + client + `,"reason":"` + strings.Repeat("r", 101) + `"}`, herald.ErrBadRequest},
		{"disconnect unknown field", "disconnect", `{` + client + `,"channel":"news:a"}`, herald.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.post(t, tt.method, tt.body), 400, tt.code)
		})
	}
	// None of them reached the connection.
	wantBody(t, e.post(t, "subscribe", `{`+client+`,"channel":"news:ok"}`), `{}`)
	a.wantPush(t, `{"channel":"news:ok","sub":{}}`)
	a.none(t)
}
