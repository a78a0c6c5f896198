package api_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
)

// TestErrors: every way a request can be refused answers with the status
// the code maps to in codes.json and the JSON error body.
func TestErrors(t *testing.T) {
	const auth = "apikey " + testKey
	tests := []struct {
		name       string
		opts       api.Options // Key defaults to testKey
		noKey      bool        // start the server without a key: API disabled
		method     string      // HTTP method, default POST
		path       string      // default /api/publish
		auth       string      // the Authorization header, "" for none
		body       string
		wantStatus int
		wantCode   herald.ErrorCode
		wantMsg    string // a substring of the message, if set
	}{
		// Authentication comes first, whatever the request.
		{name: "no auth header", body: `{"channel":"news:a","data":1}`, wantStatus: 401, wantCode: herald.ErrUnauthorized, wantMsg: "Authorization: apikey"},
		{name: "wrong scheme", auth: "Bearer " + testKey, body: `{"channel":"news:a","data":1}`, wantStatus: 401, wantCode: herald.ErrUnauthorized},
		{name: "scheme only", auth: "apikey", body: `{"channel":"news:a","data":1}`, wantStatus: 401, wantCode: herald.ErrUnauthorized},
		{name: "wrong key", auth: "apikey not-the-key", body: `{"channel":"news:a","data":1}`, wantStatus: 401, wantCode: herald.ErrUnauthorized, wantMsg: "wrong API key"},
		{name: "key prefix", auth: "apikey " + testKey[:4], body: `{"channel":"news:a","data":1}`, wantStatus: 401, wantCode: herald.ErrUnauthorized},
		{name: "empty key when API disabled", noKey: true, auth: "apikey ", body: `{"channel":"news:a","data":1}`, wantStatus: 401, wantCode: herald.ErrUnauthorized, wantMsg: "disabled"},
		{name: "any key when API disabled", noKey: true, auth: auth, body: `{"channel":"news:a","data":1}`, wantStatus: 401, wantCode: herald.ErrUnauthorized, wantMsg: "disabled"},
		{name: "unknown method unauthenticated", path: "/api/nope", wantStatus: 401, wantCode: herald.ErrUnauthorized},

		// Routing.
		{name: "unknown method", path: "/api/nope", auth: auth, body: `{}`, wantStatus: 404, wantCode: herald.ErrUnknownCommand, wantMsg: `"nope"`},
		{name: "no method", path: "/api/", auth: auth, body: `{}`, wantStatus: 404, wantCode: herald.ErrUnknownCommand},
		{name: "trailing slash", path: "/api/publish/", auth: auth, body: `{"channel":"news:a","data":1}`, wantStatus: 404, wantCode: herald.ErrUnknownCommand},
		{name: "GET", method: http.MethodGet, auth: auth, wantStatus: 405, wantCode: herald.ErrBadRequest, wantMsg: "POST"},
		{name: "PUT broadcast", method: http.MethodPut, path: "/api/broadcast", auth: auth, body: `{"channels":["news:a"],"data":1}`, wantStatus: 405, wantCode: herald.ErrBadRequest},

		// The body.
		{name: "body over max_body_size", opts: api.Options{MaxBodySize: 64}, auth: auth, body: `{"channel":"news:a","data":"` + strings.Repeat("x", 64) + `"}`, wantStatus: 413, wantCode: herald.ErrTooLarge, wantMsg: "api.max_body_size"},
		{name: "empty body", auth: auth, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "malformed JSON", auth: auth, body: `{"channel":"news:a",`, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "not an object", auth: auth, body: `["news:a",1]`, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "unknown field", auth: auth, body: `{"chanel":"news:a","data":1}`, wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "chanel"},
		{name: "two JSON values", auth: auth, body: `{"channel":"news:a","data":1} {}`, wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "more than one"},
		{name: "channel missing", auth: auth, body: `{"data":1}`, wantStatus: 400, wantCode: herald.ErrInvalidChannel, wantMsg: "channel name is empty"},
		{name: "data null", auth: auth, body: `{"channel":"a","data":null}`, wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "data is missing"},
		{name: "broadcast data null", path: "/api/broadcast", auth: auth, body: `{"channels":["a"],"data":null}`, wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "data is missing"},
		{name: "channel wrong type", auth: auth, body: `{"channel":7,"data":1}`, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "data missing", auth: auth, body: `{"channel":"news:a"}`, wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "data is missing"},
		{name: "data not valid JSON", auth: auth, body: `{"channel":"news:a","data":hello}`, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "data unterminated", auth: auth, body: `{"channel":"news:a","data":{"text":"hi"}`, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "invalid channel", auth: auth, body: `{"channel":"news:a b","data":1}`, wantStatus: 400, wantCode: herald.ErrInvalidChannel},
		{name: "channel ends with colon", auth: auth, body: `{"channel":"news:","data":1}`, wantStatus: 400, wantCode: herald.ErrInvalidChannel},
		{name: "channel too long", auth: auth, body: `{"channel":"` + strings.Repeat("a", 256) + `","data":1}`, wantStatus: 400, wantCode: herald.ErrInvalidChannel},
		{name: "unknown namespace", auth: auth, body: `{"channel":"nope:a","data":1}`, wantStatus: 400, wantCode: herald.ErrUnknownNamespace, wantMsg: `"nope"`},

		// Broadcast refuses the whole request when the request itself is wrong.
		{name: "broadcast channels missing", path: "/api/broadcast", auth: auth, body: `{"data":1}`, wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "channels"},
		{name: "broadcast channels empty", path: "/api/broadcast", auth: auth, body: `{"channels":[],"data":1}`, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "broadcast data missing", path: "/api/broadcast", auth: auth, body: `{"channels":["news:a"]}`, wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "data is missing"},
		{name: "broadcast unknown field", path: "/api/broadcast", auth: auth, body: `{"channel":"news:a","data":1}`, wantStatus: 400, wantCode: herald.ErrBadRequest},
		{name: "broadcast too many channels", path: "/api/broadcast", auth: auth, body: broadcastBody(10001), wantStatus: 400, wantCode: herald.ErrBadRequest, wantMsg: "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if !tt.noKey {
				opts.Key = testKey
			}
			e := newEnv(t, opts)
			method, path := tt.method, tt.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/api/publish"
			}
			r := e.do(t, method, path, tt.auth, tt.body)
			msg := wantError(t, r, tt.wantStatus, tt.wantCode)
			if tt.wantMsg != "" && !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message %q does not mention %q", msg, tt.wantMsg)
			}
			if tt.wantStatus == http.StatusMethodNotAllowed {
				if allow := r.header.Get("Allow"); allow != http.MethodPost {
					t.Errorf("Allow = %q, want POST", allow)
				}
			}
		})
	}
}

// broadcastBody names n channels.
func broadcastBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"channels":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"news:%d"`, i)
	}
	b.WriteString(`],"data":1}`)
	return b.String()
}

// TestAuthAccepted: the scheme is case-insensitive and blanks around the
// key do not matter.
func TestAuthAccepted(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	for _, auth := range []string{
		"apikey " + testKey,
		"APIKey " + testKey,
		"apikey  " + testKey + " ",
	} {
		r := e.do(t, http.MethodPost, "/api/publish", auth, `{"channel":"news:a","data":1}`)
		if r.status != http.StatusOK {
			t.Errorf("Authorization %q: status %d, body %s", auth, r.status, r.body)
		}
	}
}

// TestMetrics: herald_api_requests_total counts requests by method and
// status; unknown methods share one label so that a scanner cannot grow
// the series without bound.
func TestMetrics(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	e.post(t, "publish", `{"channel":"news:a","data":1}`)
	e.post(t, "publish", `{"channel":"news:a","data":2}`)
	e.post(t, "publish", `{"channel":"news:a"}`)
	e.post(t, "broadcast", `{"channels":["news:a"],"data":1}`)
	e.post(t, "nope", `{}`)
	e.post(t, "other", `{}`)
	e.do(t, http.MethodPost, "/api/publish", "", `{}`)
	e.do(t, http.MethodGet, "/api/publish", "apikey "+testKey, "")

	rec := httptest.NewRecorder()
	e.m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	got := map[string]string{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if series, value, ok := strings.Cut(sc.Text(), " "); ok && strings.HasPrefix(series, "herald_api_requests_total{") {
			got[series] = value
		}
	}
	want := map[string]string{
		`herald_api_requests_total{method="publish",status="200"}`:   "2",
		`herald_api_requests_total{method="publish",status="400"}`:   "1",
		`herald_api_requests_total{method="publish",status="401"}`:   "1",
		`herald_api_requests_total{method="publish",status="405"}`:   "1",
		`herald_api_requests_total{method="broadcast",status="200"}`: "1",
		`herald_api_requests_total{method="unknown",status="404"}`:   "2",
	}
	for series, value := range want {
		if got[series] != value {
			t.Errorf("%s = %q, want %q", series, got[series], value)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series = %v, want %v", got, want)
	}
}
