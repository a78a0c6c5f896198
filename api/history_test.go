package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
)

// wantBody checks a 200 answer whose body is exactly want.
func wantBody(t *testing.T, r response, want string) {
	t.Helper()
	if r.status != 200 || string(r.body) != want+"\n" {
		t.Errorf("got %d %s, want 200 %s", r.status, r.body, want)
	}
}

// publishN publishes the data 1..n to channel and returns its epoch.
func (e *env) publishN(t *testing.T, channel string, n int) string {
	t.Helper()
	var epoch string
	for i := 1; i <= n; i++ {
		var res publishResult
		decodeOK(t, e.post(t, "publish", fmt.Sprintf(`{"channel":%q,"data":%d}`, channel, i)), &res)
		epoch = res.Epoch
	}
	return epoch
}

// pubs spells the publications list of a history answer, data = offset.
func pubs(offsets ...int) string {
	s := make([]string, len(offsets))
	for i, o := range offsets {
		s[i] = fmt.Sprintf(`{"offset":%d,"data":%d}`, o, o)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// TestHistory pages through a channel's history every way there is.
func TestHistory(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	epoch := e.publishN(t, "history:a", 5)
	tests := []struct {
		name, body string
		offsets    []int
	}{
		{"all", `{"channel":"history:a"}`, []int{1, 2, 3, 4, 5}},
		{"limit", `{"channel":"history:a","limit":2}`, []int{1, 2}},
		{"limit above what is kept", `{"channel":"history:a","limit":1000}`, []int{1, 2, 3, 4, 5}},
		{"limit 0: position only", `{"channel":"history:a","limit":0}`, []int{}},
		{"since", `{"channel":"history:a","since":{"offset":2,"epoch":"` + epoch + `"},"limit":2}`, []int{3, 4}},
		{"since the start", `{"channel":"history:a","since":{"offset":0,"epoch":"` + epoch + `"}}`, []int{1, 2, 3, 4, 5}},
		{"since the newest", `{"channel":"history:a","since":{"offset":5,"epoch":"` + epoch + `"}}`, []int{}},
		{"since without epoch", `{"channel":"history:a","since":{"offset":3}}`, []int{4, 5}},
		{"reverse", `{"channel":"history:a","reverse":true}`, []int{5, 4, 3, 2, 1}},
		{"reverse limit", `{"channel":"history:a","reverse":true,"limit":2}`, []int{5, 4}},
		{"reverse since", `{"channel":"history:a","since":{"offset":4,"epoch":"` + epoch + `"},"limit":2,"reverse":true}`, []int{3, 2}},
		{"reverse since the oldest", `{"channel":"history:a","since":{"offset":1,"epoch":"` + epoch + `"},"reverse":true}`, []int{}},
		{"forward explicitly", `{"channel":"history:a","reverse":false,"limit":1}`, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantBody(t, e.post(t, "history", tt.body), fmt.Sprintf(`{"publications":%s,"offset":5,"epoch":%q}`, pubs(tt.offsets...), epoch))
		})
	}
}

// TestHistoryCapped: without a limit the API returns all the namespace
// keeps (history_size 10), the newest ones.
func TestHistoryCapped(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	epoch := e.publishN(t, "history:a", 12)
	wantBody(t, e.post(t, "history", `{"channel":"history:a"}`), fmt.Sprintf(`{"publications":%s,"offset":12,"epoch":%q}`, pubs(3, 4, 5, 6, 7, 8, 9, 10, 11, 12), epoch))
}

// TestHistoryEmpty: a channel never published to has a position (and an
// epoch that later publications keep) and [] rather than null.
func TestHistoryEmpty(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	var res struct {
		Publications []struct{} `json:"publications"`
		Offset       uint64     `json:"offset"`
		Epoch        string     `json:"epoch"`
	}
	r := e.post(t, "history", `{"channel":"history:new"}`)
	decodeOK(t, r, &res)
	if !strings.HasPrefix(string(r.body), `{"publications":[],"offset":0,"epoch":"`) || res.Epoch == "" {
		t.Fatalf("got %s, want no publications, offset 0 and an epoch", r.body)
	}
	if epoch := e.publishN(t, "history:new", 1); epoch != res.Epoch {
		t.Errorf("publication's epoch %q, want the one history gave, %q", epoch, res.Epoch)
	}
}

func TestHistoryErrors(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	epoch := e.publishN(t, "history:a", 3)
	tests := []struct {
		name, body string
		status     int
		code       herald.ErrorCode
	}{
		{"negative limit", `{"channel":"history:a","limit":-1}`, 400, herald.ErrBadRequest},
		{"limit not a number", `{"channel":"history:a","limit":"all"}`, 400, herald.ErrBadRequest},
		{"unknown field", `{"channel":"history:a","offset":1}`, 400, herald.ErrBadRequest},
		{"since not an object", `{"channel":"history:a","since":3}`, 400, herald.ErrBadRequest},
		{"since unknown field", `{"channel":"history:a","since":{"offset":1,"epoc":"x"}}`, 400, herald.ErrBadRequest},
		{"since another epoch", `{"channel":"history:a","since":{"offset":1,"epoch":"other"}}`, 400, herald.ErrUnrecoverablePosition},
		{"since beyond the newest", `{"channel":"history:a","since":{"offset":4,"epoch":"` + epoch + `"}}`, 400, herald.ErrUnrecoverablePosition},
		{"namespace without history", `{"channel":"news:a"}`, 400, herald.ErrNotAvailable},
		{"default namespace without history", `{"channel":"lobby"}`, 400, herald.ErrNotAvailable},
		{"channel missing", `{}`, 400, herald.ErrInvalidChannel},
		{"invalid channel", `{"channel":"history:a b"}`, 400, herald.ErrInvalidChannel},
		{"unknown namespace", `{"channel":"nope:a"}`, 400, herald.ErrUnknownNamespace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.post(t, "history", tt.body), tt.status, tt.code)
		})
	}
}

// TestHistoryRemove: removing drops the publications but not the stream's
// position, so offsets go on where they were.
func TestHistoryRemove(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	epoch := e.publishN(t, "history:a", 3)
	wantBody(t, e.post(t, "history_remove", `{"channel":"history:a"}`), `{}`)
	wantBody(t, e.post(t, "history", `{"channel":"history:a"}`), fmt.Sprintf(`{"publications":[],"offset":3,"epoch":%q}`, epoch))
	var res publishResult
	decodeOK(t, e.post(t, "publish", `{"channel":"history:a","data":4}`), &res)
	if res.Offset != 4 || res.Epoch != epoch {
		t.Errorf("publication after remove: %+v, want offset 4 in epoch %q", res, epoch)
	}
	wantBody(t, e.post(t, "history", `{"channel":"history:a"}`), fmt.Sprintf(`{"publications":%s,"offset":4,"epoch":%q}`, pubs(4), epoch))

	wantError(t, e.post(t, "history_remove", `{"channel":"news:a"}`), 400, herald.ErrNotAvailable)
	wantError(t, e.post(t, "history_remove", `{"channel":"history:a","limit":1}`), 400, herald.ErrBadRequest)
	wantError(t, e.post(t, "history_remove", `{"channel":"bad channel"}`), 400, herald.ErrInvalidChannel)
}
