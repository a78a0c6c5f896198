package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hooks"
)

func handshake(cookie string) http.Header {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	h.Set("User-Agent", "Mozilla/5.0 test")
	h.Set("Origin", "https://app.example.com")
	h.Set("X-Secret-Internal", "must not leave")
	return h
}

func connect(e *env, cookie string) (hooks.ConnectResult, error) {
	return e.c.Connect(context.Background(), hooks.ConnectRequest{
		Client: "c1", Transport: "websocket", RemoteAddr: "192.0.2.1:5555",
		Headers: e.c.ForwardedHeaders(handshake(cookie)),
		Name:    "js", Version: "1.0.0", Data: json.RawMessage(`{"tab":3}`),
	})
}

// wantError checks that err is a *herald.Error with the code and a message
// containing msg.
func wantError(t *testing.T, err error, code herald.ErrorCode, msg string) {
	t.Helper()
	var he *herald.Error
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) is not a *herald.Error", err, err)
	}
	if he.Code != code || !strings.Contains(he.Message, msg) {
		t.Fatalf("error %d %q, want %d containing %q", he.Code, he.Message, code, msg)
	}
}

func wantDisconnect(t *testing.T, err error, want herald.Disconnect) {
	t.Helper()
	var d herald.Disconnect
	if !errors.As(err, &d) {
		t.Fatalf("error %v (%T) is not a disconnect", err, err)
	}
	if d != want {
		t.Fatalf("disconnect %+v, want %+v", d, want)
	}
	var de *hooks.DisconnectError
	if !errors.As(err, &de) {
		t.Fatalf("error %T is not a *hooks.DisconnectError", err)
	}
}

func TestConnectBySessionCookie(t *testing.T) {
	e := newEnv(t, nil)
	res, err := connect(e, "sid=good; theme=dark")
	if err != nil {
		t.Fatal(err)
	}
	want := hooks.ConnectResult{
		User: "42", Info: json.RawMessage(`{"name":"Ann"}`),
		Channels:  []string{"personal:42"},
		ExpiresAt: time.Unix(1767225600, 0),
	}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("got %+v, want %+v", res, want)
	}

	hdr, body := e.b.last()
	wantBody := map[string]any{
		"client": "c1", "transport": "websocket", "remote_addr": "192.0.2.1:5555",
		"headers": map[string]any{
			"Cookie": "sid=good; theme=dark", "User-Agent": "Mozilla/5.0 test",
			"Origin": "https://app.example.com",
		},
		"name": "js", "version": "1.0.0", "data": map[string]any{"tab": float64(3)},
	}
	if !reflect.DeepEqual(body, wantBody) {
		t.Fatalf("body %v, want %v", body, wantBody)
	}
	if hdr.Get("Cookie") != "sid=good; theme=dark" || hdr.Get("Origin") != "https://app.example.com" ||
		hdr.Get("User-Agent") != "Mozilla/5.0 test" {
		t.Fatalf("forwarded headers not set on the request: %v", hdr)
	}
	if hdr.Get("X-Secret-Internal") != "" {
		t.Fatal("a header not in ForwardHeaders was forwarded")
	}
	if hdr.Get("X-Herald-Secret") != secret || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("static headers missing: %v", hdr)
	}
	if e.calls(hooks.ConnectHook, "ok") != 1 || e.timed(hooks.ConnectHook) != 1 {
		t.Fatal("the call was not counted and timed")
	}
}

func TestConnectRefused(t *testing.T) {
	e := newEnv(t, nil)

	_, err := connect(e, "sid=bad")
	wantError(t, err, herald.ErrUnauthorized, "session expired, log in again")

	_, err = connect(e, "sid=app")
	wantError(t, err, 1001, "account suspended")

	_, err = connect(e, "sid=weird") // code 42 is nobody's: permission denied
	wantError(t, err, herald.ErrPermissionDenied, "no way")

	_, err = connect(e, "sid=other") // a catalog code without a message
	wantError(t, err, herald.ErrPermissionDenied, "permission denied")

	_, err = connect(e, "")
	want := herald.DisconnectInvalidToken
	want.Reason = "no session"
	wantDisconnect(t, err, want)

	if n := e.calls(hooks.ConnectHook, "refused"); n != 5 {
		t.Fatalf("%d refusals counted, want 5", n)
	}
	// Only the backend's misuse of a code is worth a warning.
	if w := e.log.warnings(); len(w) != 1 || !strings.Contains(w[0], "error 42") {
		t.Fatalf("warnings: %q", w)
	}
}

// TestForwardOnlyConfigured sends headers the operator did not list, in
// any spelling, and an empty ForwardHeaders.
func TestForwardOnlyConfigured(t *testing.T) {
	e := newEnv(t, func(c *hooks.Config, _ string) { c.ForwardHeaders = []string{"cookie"} })
	_, err := e.c.Connect(context.Background(), hooks.ConnectRequest{
		Client: "c1", Headers: map[string]string{"cookie": "sid=good", "authorization": "Bearer x", "X-Herald-Secret": "forged"},
	})
	if err != nil {
		t.Fatal(err)
	}
	hdr, body := e.b.last()
	if got := body["headers"]; !reflect.DeepEqual(got, map[string]any{"Cookie": "sid=good"}) {
		t.Fatalf("headers in body: %v", got)
	}
	if hdr.Get("Authorization") != "" || hdr.Get("X-Herald-Secret") != secret {
		t.Fatalf("request headers: %v", hdr)
	}

	e = newEnv(t, func(c *hooks.Config, _ string) { c.ForwardHeaders = []string{} })
	if h := e.c.ForwardedHeaders(handshake("sid=good")); h != nil {
		t.Fatalf("forwarded %v with an empty ForwardHeaders", h)
	}
	_, err = connect(e, "sid=good")
	var d herald.Disconnect
	if !errors.As(err, &d) || d.Code != 4502 {
		t.Fatalf("without the cookie the backend should disconnect, got %v", err)
	}
}

// TestStaticHeaders: without the shared secret the backend answers 401,
// which is a failure, not a refusal.
func TestStaticHeaders(t *testing.T) {
	e := newEnv(t, func(c *hooks.Config, _ string) { c.Headers = nil })
	_, err := connect(e, "sid=good")
	wantError(t, err, herald.ErrUnavailable, "connect hook answered HTTP 401")
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.c.Refresh(context.Background(), hooks.RefreshRequest{Client: "c1", User: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ExpiresAt.Equal(time.Unix(1767229200, 0)) || string(res.Info) != `{"name":"Ann B."}` {
		t.Fatalf("got %+v", res)
	}
	_, err = e.c.Refresh(context.Background(), hooks.RefreshRequest{Client: "c2", User: "7"})
	wantDisconnect(t, err, herald.DisconnectExpired)
}

func TestSubscribe(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.c.Subscribe(context.Background(), hooks.SubscribeRequest{Client: "c1", User: "42", Channel: "personal:42"})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Info) != `{"role":"owner"}` {
		t.Fatalf("info %s", res.Info)
	}
	_, err = e.c.Subscribe(context.Background(), hooks.SubscribeRequest{Client: "c1", User: "42", Channel: "personal:7"})
	wantError(t, err, herald.ErrPermissionDenied, "not your channel")
	_, body := e.b.last()
	if _, ok := body["data"]; ok {
		t.Fatalf("absent data sent: %v", body)
	}
}

func TestPublish(t *testing.T) {
	e := newEnv(t, nil)
	pub := func(channel, text string) (hooks.PublishResult, error) {
		data, _ := json.Marshal(map[string]string{"text": text})
		return e.c.Publish(context.Background(), hooks.PublishRequest{Client: "c1", User: "42", Channel: channel, Data: data})
	}
	res, err := pub("chat:moderated", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Data) != `{"by":"42","text":"HELLO"}` {
		t.Fatalf("rewritten data %s", res.Data)
	}
	res, err = pub("chat:open", "hello")
	if err != nil || res.Data != nil {
		t.Fatalf("unchanged data: got %s, %v; want nil", res.Data, err)
	}
	_, err = pub("chat:open", "buy spam")
	wantError(t, err, 1002, "looks like spam")
}

func TestRPC(t *testing.T) {
	e := newEnv(t, nil)
	res, err := e.c.RPC(context.Background(), hooks.RPCRequest{Client: "c1", User: "42", Method: "echo", Data: json.RawMessage(`[1, 2]`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Data) != `{"user":"42","got":[1,2]}` { // compacted
		t.Fatalf("data %q", res.Data)
	}
	_, err = e.c.RPC(context.Background(), hooks.RPCRequest{Client: "c1", Method: "nope"})
	wantError(t, err, herald.ErrUnknownMethod, "no method nope")
}

// TestBackendFailures: every way a backend can fail gives ErrUnavailable,
// one warning without the cookie, and a count.
func TestBackendFailures(t *testing.T) {
	for _, tc := range []struct {
		path, msg, result string
	}{
		{"/status/500", "connect hook answered HTTP 500", "error"},
		{"/garbage", "connect hook answered invalid JSON", "error"},
		{"/big", "connect hook answered more than 65536 bytes", "error"},
		{"/redirect", "connect hook answered HTTP 302", "error"},
		{"/nowhere", "connect hook answered HTTP 404", "error"},
		{"/slow", "connect hook timed out after 100ms", "timeout"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			e := newEnv(t, func(c *hooks.Config, url string) {
				c.ConnectURL = url + tc.path
				if tc.path == "/slow" {
					// Short only where nothing ever answers: a loaded
					// machine may take longer than this for an answer.
					c.Timeout = 100 * time.Millisecond
				}
			})
			_, err := connect(e, "sid=good")
			wantError(t, err, herald.ErrUnavailable, tc.msg)
			if !herald.AsError(err).Code.Temporary() {
				t.Fatal("a failing backend must be a temporary error")
			}
			if e.calls(hooks.ConnectHook, tc.result) != 1 || e.timed(hooks.ConnectHook) != 1 {
				t.Fatalf("not counted as %s", tc.result)
			}
			w := e.log.warnings()
			if len(w) != 1 || !strings.Contains(w[0], "hook=connect") || !strings.Contains(w[0], tc.msg) {
				t.Fatalf("warnings: %q", w)
			}
			if strings.Contains(e.log.String(), "sid=") {
				t.Fatal("the cookie reached the log")
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	e := newEnv(t, nil)
	e.b.Close() // nothing listens there any more
	_, err := connect(e, "sid=good")
	wantError(t, err, herald.ErrUnavailable, "connect hook is unreachable")
	if e.calls(hooks.ConnectHook, "error") != 1 || len(e.log.warnings()) != 1 {
		t.Fatal("not counted and logged once")
	}
}

// TestCallerCanceled: the client went away while the backend thought.
func TestCallerCanceled(t *testing.T) {
	e := newEnv(t, func(c *hooks.Config, url string) { c.SubscribeURL = url + "/slow" })
	c := e.c
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-e.b.started
		cancel()
	}()
	_, err := c.Subscribe(ctx, hooks.SubscribeRequest{Client: "c1", User: "42", Channel: "personal:42"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not say canceled", err)
	}
	wantError(t, err, herald.ErrUnavailable, "subscribe hook canceled")
	if e.calls(hooks.SubscribeHook, "canceled") != 1 {
		t.Fatal("not counted as canceled")
	}
	if w := e.log.warnings(); len(w) != 0 {
		t.Fatalf("a client's going away is no warning: %q", w)
	}

	// The caller's own deadline is a timeout.
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, err = c.Subscribe(ctx, hooks.SubscribeRequest{Client: "c1"})
	wantError(t, err, herald.ErrUnavailable, "subscribe hook timed out")
	if e.calls(hooks.SubscribeHook, "timeout") != 1 {
		t.Fatal("not counted as a timeout")
	}
}

// TestOddAnswers covers answers that are JSON but not what a hook may say.
func TestOddAnswers(t *testing.T) {
	e := newEnv(t, func(c *hooks.Config, url string) { c.RPCURL = url + "/answer" })
	c := e.c
	ask := func(answer string) (hooks.RPCResult, error) {
		return c.RPC(context.Background(), hooks.RPCRequest{Client: "c1", Method: "m", Data: json.RawMessage(answer)})
	}
	for _, tc := range []struct {
		answer string
		code   herald.ErrorCode
		msg    string
	}{
		{`{}`, herald.ErrUnavailable, "rpc hook answered neither result, error nor disconnect"},
		{`{"result":null}`, herald.ErrUnavailable, "neither"},
		{`{"result":[1]}`, herald.ErrUnavailable, "rpc hook answered an invalid result"},
		{`{"result":{"data":1},"error":{"code":1500,"message":"no"}}`, 1500, "no"},
		{`{"error":{"code":1999}}`, 1999, "refused by the application"},
		{`{"error":{"code":2000,"message":"x"}}`, herald.ErrPermissionDenied, "x"},
		{`{"error":{"code":150}}`, herald.ErrPermissionDenied, "permission denied"},
		{`{"error":{"code":114,"message":"db down"}}`, herald.ErrUnavailable, "db down"},
		{`{"error":{"code":1001,"message":"` + strings.Repeat("é", 200) + `"}}`, 1001, strings.Repeat("é", 128)},
	} {
		_, err := ask(tc.answer)
		wantError(t, err, tc.code, tc.msg)
		if m := herald.AsError(err).Message; len(m) > 256 {
			t.Fatalf("message of %d bytes passed to the client", len(m))
		}
	}
	for _, tc := range []struct {
		answer string
		want   herald.Disconnect
	}{
		{`{"disconnect":{"code":4601,"reason":"banned","reconnect":true}}`, herald.Disconnect{Code: 4601, Name: "application", Reason: "banned", Reconnect: true}},
		{`{"disconnect":{"code":4999}}`, herald.Disconnect{Code: 4999, Name: "application", Reason: "disconnected by the application"}},
		{`{"disconnect":{"code":4000,"reconnect":false}}`, herald.DisconnectShutdown},
		{`{"disconnect":{"code":4505,"reason":"go"}}`, herald.Disconnect{Code: 4503, Name: "force_disconnect", Reason: "go"}},
		{`{"disconnect":{"code":70000}}`, herald.DisconnectForceDisconnect},
		{`{"error":{"code":101},"disconnect":{"code":4502}}`, herald.DisconnectInvalidToken},
	} {
		_, err := ask(tc.answer)
		wantDisconnect(t, err, tc.want)
	}
	_, err := ask(`{"disconnect":{"code":4601,"reason":"` + strings.Repeat("x", 200) + `"}}`)
	var d herald.Disconnect
	if !errors.As(err, &d) || len(d.Reason) != 123 {
		t.Fatalf("a reason longer than a close frame holds: %v", err)
	}
	res, err := ask(`{"result":{"data":null}}`)
	if err != nil || res.Data != nil {
		t.Fatalf("null data: %s, %v", res.Data, err)
	}
}

// TestResultFields checks what each result field may hold.
func TestResultFields(t *testing.T) {
	refresh := func(answer string) (hooks.RefreshResult, error) {
		e := newEnv(t, func(c *hooks.Config, url string) {
			c.RefreshURL = url + "/answer"
			c.Headers["X-Answer"] = answer
		})
		return e.c.Refresh(context.Background(), hooks.RefreshRequest{Client: "c1", User: "42"})
	}
	res, err := refresh(`{"result":{"expire_at":0}}`)
	if err != nil || !res.ExpiresAt.IsZero() || res.Info != nil {
		t.Fatalf("expire_at 0: %+v, %v", res, err)
	}
	_, err = refresh(`{"result":{"expire_at":-1}}`)
	wantError(t, err, herald.ErrUnavailable, "refresh hook answered an invalid result")
	_, err = refresh(`{"result":{"expire_at":"soon"}}`)
	wantError(t, err, herald.ErrUnavailable, "refresh hook answered an invalid result")

	e := newEnv(t, func(c *hooks.Config, url string) {
		c.ConnectURL = url + "/answer"
		c.Headers["X-Answer"] = `{"result":{}}`
	})
	got, err := e.c.Connect(context.Background(), hooks.ConnectRequest{Client: "c1"})
	if err != nil || !reflect.DeepEqual(got, hooks.ConnectResult{}) {
		t.Fatalf("an empty result is an anonymous connection: %+v, %v", got, err)
	}
}

func TestHookOff(t *testing.T) {
	c, err := hooks.New(hooks.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Enabled(hooks.ConnectHook) {
		t.Fatal("connect on without a URL")
	}
	_, err = c.Connect(context.Background(), hooks.ConnectRequest{Client: "c1"})
	wantError(t, err, herald.ErrNotAvailable, "connect hook is not configured")

	var nilClient *hooks.Client
	if nilClient.Enabled(hooks.RPCHook) {
		t.Fatal("a nil client has hooks")
	}
	_, err = nilClient.RPC(context.Background(), hooks.RPCRequest{})
	wantError(t, err, herald.ErrNotAvailable, "rpc hook is not configured")
	nilClient.Close()
}

func TestInvalidRequestData(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.c.Publish(context.Background(), hooks.PublishRequest{Client: "c1", Channel: "a", Data: json.RawMessage(`{`)})
	wantError(t, err, herald.ErrBadRequest, "not valid JSON")
}

// TestRedirectsNeverFollowed: even a caller's HTTP client that follows
// redirects does not follow the backend's, and is not changed.
func TestRedirectsNeverFollowed(t *testing.T) {
	followed := false
	own := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { followed = true; return nil }}
	e := newEnv(t, func(c *hooks.Config, url string) {
		c.ConnectURL = url + "/redirect"
		c.HTTPClient = own
	})
	_, err := connect(e, "sid=good")
	wantError(t, err, herald.ErrUnavailable, "connect hook answered HTTP 302")
	if followed || own.CheckRedirect == nil {
		t.Fatal("the redirect was followed, or the caller's client changed")
	}
	if w := e.log.warnings(); len(w) != 1 || !strings.Contains(w[0], "not followed") {
		t.Fatalf("warnings: %q", w)
	}
	own.CloseIdleConnections()
}

// TestForwardDropsInvalidValues: a header value no request may carry is
// left out, not turned into a failed call.
func TestForwardDropsInvalidValues(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.c.Connect(context.Background(), hooks.ConnectRequest{
		Client: "c1", Headers: map[string]string{"Cookie": "sid=good", "Origin": "x\r\nX-Herald-Secret: forged"},
	})
	if err != nil {
		t.Fatal(err)
	}
	hdr, body := e.b.last()
	if got := body["headers"]; !reflect.DeepEqual(got, map[string]any{"Cookie": "sid=good"}) || hdr.Get("Origin") != "" {
		t.Fatalf("headers in body %v, on the request %v", got, hdr)
	}
}
