package api_test

import (
	"fmt"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
)

// TestPresence: a connection subscribed to a channel with presence on is
// listed by its client id; connections are anonymous for now, so it is a
// client but not a user.
func TestPresence(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	wantBody(t, e.post(t, "presence", `{"channel":"room:a"}`), `{"presence":{}}`)
	wantBody(t, e.post(t, "presence_stats", `{"channel":"room:a"}`), `{"num_clients":0,"num_users":0}`)

	a := e.subscribe(t, "room:a")
	wantBody(t, e.post(t, "presence", `{"channel":"room:a"}`), fmt.Sprintf(`{"presence":{%q:{"client":%q,"user":""}}}`, a.id, a.id))
	wantBody(t, e.post(t, "presence_stats", `{"channel":"room:a"}`), `{"num_clients":1,"num_users":0}`)

	b := e.subscribe(t, "room:a", "room:b")
	var res struct {
		Presence map[string]herald.ClientInfo `json:"presence"`
	}
	decodeOK(t, e.post(t, "presence", `{"channel":"room:a"}`), &res)
	if len(res.Presence) != 2 || res.Presence[a.id].Client != a.id || res.Presence[b.id].Client != b.id {
		t.Errorf("presence = %+v, want %s and %s", res.Presence, a.id, b.id)
	}
	wantBody(t, e.post(t, "presence_stats", `{"channel":"room:a"}`), `{"num_clients":2,"num_users":0}`)
	wantBody(t, e.post(t, "presence_stats", `{"channel":"room:b"}`), `{"num_clients":1,"num_users":0}`)
}

func TestPresenceErrors(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	e.subscribe(t, "news:a", "lobby")
	tests := []struct {
		name, body string
		status     int
		code       herald.ErrorCode
	}{
		{"presence off", `{"channel":"news:a"}`, 400, herald.ErrNotAvailable},
		{"presence off in the default namespace", `{"channel":"lobby"}`, 400, herald.ErrNotAvailable},
		{"channel missing", `{}`, 400, herald.ErrInvalidChannel},
		{"invalid channel", `{"channel":"room:a b"}`, 400, herald.ErrInvalidChannel},
		{"unknown namespace", `{"channel":"nope:a"}`, 400, herald.ErrUnknownNamespace},
		{"unknown field", `{"channel":"room:a","user":"x"}`, 400, herald.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.post(t, "presence", tt.body), tt.status, tt.code)
			wantError(t, e.post(t, "presence_stats", tt.body), tt.status, tt.code)
		})
	}
}
