package api_test

import (
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
)

// TestChannels lists this node's channels with subscribers, filtered by a
// glob.
func TestChannels(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	wantBody(t, e.post(t, "channels", `{}`), `{"channels":{}}`)
	e.subscribe(t, "news:a", "news:b", "lobby")
	e.subscribe(t, "news:a")
	tests := []struct{ name, body, want string }{
		{"all", `{}`, `{"channels":{"lobby":{"num_clients":1},"news:a":{"num_clients":2},"news:b":{"num_clients":1}}}`},
		{"empty pattern", `{"pattern":""}`, `{"channels":{"lobby":{"num_clients":1},"news:a":{"num_clients":2},"news:b":{"num_clients":1}}}`},
		{"namespace", `{"pattern":"news:*"}`, `{"channels":{"news:a":{"num_clients":2},"news:b":{"num_clients":1}}}`},
		{"one", `{"pattern":"news:a"}`, `{"channels":{"news:a":{"num_clients":2}}}`},
		{"class", `{"pattern":"news:[b-z]"}`, `{"channels":{"news:b":{"num_clients":1}}}`},
		{"none", `{"pattern":"chat:*"}`, `{"channels":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantBody(t, e.post(t, "channels", tt.body), tt.want)
		})
	}
	wantError(t, e.post(t, "channels", `{"pattern":"news:["}`), 400, herald.ErrBadRequest)
	wantError(t, e.post(t, "channels", `{"pattern":1}`), 400, herald.ErrBadRequest)
	wantError(t, e.post(t, "channels", `{"channel":"news:a"}`), 400, herald.ErrBadRequest)
}

func TestInfo(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	e.subscribe(t, "news:a", "news:b")
	e.subscribe(t, "news:a")
	e.subscribe(t)
	type node struct {
		ID               string `json:"id"`
		Name             string `json:"name"`
		Version          string `json:"version"`
		UptimeSeconds    int64  `json:"uptime_seconds"`
		NumClients       int    `json:"num_clients"`
		NumUsers         int    `json:"num_users"`
		NumChannels      int    `json:"num_channels"`
		NumSubscriptions int    `json:"num_subscriptions"`
	}
	var res struct {
		Nodes []node `json:"nodes"`
	}
	decodeOK(t, e.post(t, "info", `{}`), &res)
	if len(res.Nodes) != 1 {
		t.Fatalf("nodes = %+v, want one", res.Nodes)
	}
	n := res.Nodes[0]
	if n.ID == "" || n.Name == "" || n.UptimeSeconds < 0 {
		t.Errorf("id %q, name %q, uptime %d: want an id, a name (the host's) and an uptime", n.ID, n.Name, n.UptimeSeconds)
	}
	n.ID, n.Name, n.UptimeSeconds = "", "", 0
	// Anonymous connections are clients, not users.
	if want := (node{Version: testVersion, NumClients: 3, NumUsers: 0, NumChannels: 2, NumSubscriptions: 3}); n != want {
		t.Errorf("node = %+v, want %+v", n, want)
	}
	wantError(t, e.post(t, "info", `{"verbose":true}`), 400, herald.ErrBadRequest)
	wantError(t, e.post(t, "info", ``), 400, herald.ErrBadRequest)
}
