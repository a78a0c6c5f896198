package historyhttp_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/historyhttp"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/memory"
)

const secret = "history-http-test-secret-of-32-bytes!"

// namespaces: "feed" serves history over HTTP to anyone, "members" to
// users only, "private" needs subscription tokens, "plain" keeps history
// but does not serve it over HTTP, "small" keeps less than a page.
var namespaces = herald.Namespaces{Named: map[string]herald.NamespaceOptions{
	"feed":    {HistorySize: 50, HistoryTTL: time.Minute, HistoryHTTP: true},
	"members": {HistorySize: 50, HistoryTTL: time.Minute, HistoryHTTP: true, SubscribeAccess: herald.AccessUser},
	"private": {HistorySize: 50, HistoryTTL: time.Minute, HistoryHTTP: true, SubscribeAccess: herald.AccessToken},
	"plain":   {HistorySize: 50, HistoryTTL: time.Minute},
	"small":   {HistorySize: 3, HistoryTTL: time.Minute, HistoryHTTP: true},
}}

type env struct {
	srv *httptest.Server
	hub *hub.Hub
}

// newEnv serves the handler with a page size of 5 in front of a real hub,
// memory broker and token verifier.
func newEnv(t *testing.T) *env {
	t.Helper()
	v, err := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	a := authn.New(authn.Options{Verifier: v})
	h := hub.New(hub.Config{Namespaces: namespaces, Auth: a}, memory.New())
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /history/{channel}", historyhttp.NewHandler(historyhttp.Options{PageSize: 5}, h))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		if err := h.Close(); err != nil {
			t.Error(err)
		}
		a.Close()
	})
	return &env{srv: srv, hub: h}
}

func (e *env) publish(t *testing.T, channel string, n int) herald.StreamPosition {
	t.Helper()
	var pos herald.StreamPosition
	for i := 0; i < n; i++ {
		var err error
		if pos, err = e.hub.Publish(context.Background(), channel, []byte(fmt.Sprintf(`{"n":%d}`, i)), hub.PublishRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	return pos
}

type answer struct {
	status int
	header http.Header
	page   struct {
		historyhttp.Page
		Error *struct {
			Code    uint32 `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
}

// get asks for path; headers come in pairs of name and value.
func (e *env) get(t *testing.T, path string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: res.StatusCode, header: res.Header}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &a.page); err != nil {
			t.Fatalf("GET %s: %d %q: %v", path, res.StatusCode, body, err)
		}
	}
	return a
}

func historyPath(channel, epoch string, since uint64) string {
	return fmt.Sprintf("/history/%s?epoch=%s&since=%d", url.PathEscape(channel), url.QueryEscape(epoch), since)
}

func TestPagesAreImmutableBelowTheTopAndShortLivedAtIt(t *testing.T) {
	e := newEnv(t)
	pos := e.publish(t, "feed:news", 12)

	// 1..5 and 6..10 are full and below 12: final.
	var since uint64
	for _, want := range []uint64{5, 10} {
		a := e.get(t, historyPath("feed:news", pos.Epoch, since))
		if a.status != http.StatusOK || a.page.Next == nil || *a.page.Next != want || a.page.Offset != nil {
			t.Fatalf("since %d: %d next %v offset %v, want next %d and no offset", since, a.status, a.page.Next, a.page.Offset, want)
		}
		if cc := a.header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Fatalf("since %d: Cache-Control %q", since, cc)
		}
		for i, p := range a.page.Publications {
			if p.Offset != since+uint64(i)+1 || string(p.Data) != fmt.Sprintf(`{"n":%d}`, since+uint64(i)) {
				t.Fatalf("since %d: publication %d is %d %s", since, i, p.Offset, p.Data)
			}
		}
		since = want
	}
	// 11..12 reaches the top: the open end, with the top's offset.
	a := e.get(t, historyPath("feed:news", pos.Epoch, since))
	if a.status != http.StatusOK || a.page.Next != nil || a.page.Offset == nil || *a.page.Offset != 12 || len(a.page.Publications) != 2 {
		t.Fatalf("open end: %d %+v", a.status, a.page)
	}
	if cc := a.header.Get("Cache-Control"); cc != "public, max-age=1" {
		t.Fatalf("open end: Cache-Control %q", cc)
	}
	// A full page that ends at the top may still grow a next: open too.
	a = e.get(t, historyPath("feed:news", pos.Epoch, 7))
	if a.page.Next != nil || a.header.Get("Cache-Control") != "public, max-age=1" || len(a.page.Publications) != 5 {
		t.Fatalf("full page at the top: %+v %q", a.page, a.header.Get("Cache-Control"))
	}
	// At the top: no publications, still an answer.
	a = e.get(t, historyPath("feed:news", pos.Epoch, 12))
	if a.status != http.StatusOK || len(a.page.Publications) != 0 || a.page.Publications == nil || *a.page.Offset != 12 {
		t.Fatalf("at the top: %d %+v", a.status, a.page)
	}
}

// A page of another origin may read the pages (the TypeScript client's
// fetch from app.example.com when Herald is at rt.example.com), and the
// errors, with no credentials.
func TestPagesAreReadableFromOtherOrigins(t *testing.T) {
	e := newEnv(t)
	pos := e.publish(t, "feed:cors", 2)
	for _, path := range []string{historyPath("feed:cors", pos.Epoch, 0), historyPath("feed:cors", "old", 0)} {
		a := e.get(t, path, "Origin", "https://app.example.com")
		if got := a.header.Get("Access-Control-Allow-Origin"); got != "*" || a.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("GET %s: %d, Access-Control-Allow-Origin %q, want * without credentials", path, a.status, got)
		}
	}
}

func TestETagAnswers304(t *testing.T) {
	e := newEnv(t)
	pos := e.publish(t, "feed:etag", 7)
	path := historyPath("feed:etag", pos.Epoch, 0)
	a := e.get(t, path)
	tag := a.header.Get("ETag")
	if !strings.HasPrefix(tag, `"`) || strings.HasPrefix(tag, "W/") {
		t.Fatalf("ETag %q is not a strong tag", tag)
	}
	if again := e.get(t, path); again.header.Get("ETag") != tag {
		t.Fatalf("the same page has two tags: %q and %q", tag, again.header.Get("ETag"))
	}
	for _, inm := range []string{tag, `"other", ` + tag, "W/" + tag, "*"} {
		if nm := e.get(t, path, "If-None-Match", inm); nm.status != http.StatusNotModified || nm.header.Get("ETag") != tag {
			t.Fatalf("If-None-Match %s: %d, ETag %q", inm, nm.status, nm.header.Get("ETag"))
		}
	}
	if other := e.get(t, path, "If-None-Match", `"other"`); other.status != http.StatusOK {
		t.Fatalf("a stale tag: %d, want 200", other.status)
	}
	// The open end changes with a publication, and so does its tag.
	open := historyPath("feed:etag", pos.Epoch, 5)
	before := e.get(t, open).header.Get("ETag")
	e.publish(t, "feed:etag", 1)
	if after := e.get(t, open, "If-None-Match", before); after.status != http.StatusOK || after.header.Get("ETag") == before {
		t.Fatalf("after a publication: %d, tag %q (was %q)", after.status, after.header.Get("ETag"), before)
	}
}

func TestSmallHistoryPagesAreFullAtItsSize(t *testing.T) {
	e := newEnv(t)
	pos := e.publish(t, "small:x", 7) // keeps 5..7
	a := e.get(t, historyPath("small:x", pos.Epoch, 4))
	if a.status != http.StatusOK || len(a.page.Publications) != 3 || a.page.Offset == nil {
		t.Fatalf("kept tail: %d %+v", a.status, a.page)
	}
	// Offsets 1..4 are gone: the page has a gap, so it is not final.
	a = e.get(t, historyPath("small:x", pos.Epoch, 0))
	if a.page.Next != nil || a.header.Get("Cache-Control") != "public, max-age=1" || a.page.Publications[0].Offset != 5 {
		t.Fatalf("trimmed page: %+v %q", a.page, a.header.Get("Cache-Control"))
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	pos := e.publish(t, "feed:r", 2)
	e.publish(t, "members:r", 1)
	user, err := auth.Mint(secret, auth.MintClaims{User: "42", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		path    string
		headers []string
		code    herald.ErrorCode
	}{
		{"wrong epoch", historyPath("feed:r", "not-the-epoch", 0), nil, herald.ErrUnrecoverablePosition},
		{"beyond the top", historyPath("feed:r", pos.Epoch, 3), nil, herald.ErrUnrecoverablePosition},
		{"no epoch", "/history/feed:r?since=0", nil, herald.ErrBadRequest},
		{"no since", "/history/feed:r?epoch=" + pos.Epoch, nil, herald.ErrBadRequest},
		{"bad since", "/history/feed:r?epoch=e&since=-1", nil, herald.ErrBadRequest},
		{"unknown namespace", historyPath("nope:r", pos.Epoch, 0), nil, herald.ErrUnknownNamespace},
		{"invalid channel", "/history/feed:a%20b?epoch=e&since=0", nil, herald.ErrInvalidChannel},
		{"not over http", historyPath("plain:r", pos.Epoch, 0), nil, herald.ErrNotAvailable},
		{"users only, anonymous", historyPath("members:r", "e", 0), nil, herald.ErrPermissionDenied},
		{"subscription tokens, none sent", historyPath("private:r", "e", 0), nil, herald.ErrPermissionDenied},
		{"subscription tokens, a connection token sent", historyPath("private:r", "e", 0), []string{"Authorization", "Bearer " + user}, herald.ErrUnauthorized},
		{"forged token", historyPath("members:r", "e", 0), []string{"Authorization", "Bearer x.y.z"}, herald.ErrUnauthorized},
		{"not bearer", historyPath("members:r", "e", 0), []string{"Authorization", "Basic eDp5"}, herald.ErrUnauthorized},
		{"token twice", historyPath("members:r", "e", 0) + "&token=" + user, []string{"Authorization", "Bearer " + user}, herald.ErrBadRequest},
		{"someone else's channel", historyPath("feed:dm#7", pos.Epoch, 0), []string{"Authorization", "Bearer " + user}, herald.ErrPermissionDenied},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.get(t, c.path, c.headers...)
			if a.page.Error == nil || a.page.Error.Code != uint32(c.code) || a.status != c.code.HTTPStatus() {
				t.Fatalf("%d %+v, want code %d", a.status, a.page.Error, c.code)
			}
			if a.page.Error.Message == "" || a.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("message %q, Cache-Control %q", a.page.Error.Message, a.header.Get("Cache-Control"))
			}
		})
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	pos := e.publish(t, "members:t", 2)
	user, err := auth.Mint(secret, auth.MintClaims{User: "42", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	path := historyPath("members:t", pos.Epoch, 0)
	// In the header the page is the user's: no shared cache may keep it.
	a := e.get(t, path, "Authorization", "Bearer "+user)
	if a.status != http.StatusOK || len(a.page.Publications) != 2 || a.header.Get("Cache-Control") != "private, max-age=1" {
		t.Fatalf("bearer: %d %+v %q", a.status, a.page, a.header.Get("Cache-Control"))
	}
	// In the URL (a signed URL) the token is part of the cache key.
	a = e.get(t, path+"&token="+user)
	if a.status != http.StatusOK || a.header.Get("Cache-Control") != "public, max-age=1" {
		t.Fatalf("query token: %d %+v %q", a.status, a.page, a.header.Get("Cache-Control"))
	}
	// A user-limited channel admits the users it lists.
	p := e.publish(t, "feed:dm#42", 1)
	if a := e.get(t, historyPath("feed:dm#42", p.Epoch, 0), "Authorization", "Bearer "+user); a.status != http.StatusOK {
		t.Fatalf("own channel: %d %+v", a.status, a.page.Error)
	}
}

// In a namespace whose subscribe access is token, the reader sends the
// channel's subscription token, in the header or in the URL, and it is
// checked as a subscribe checks it: signature, expiry, channel claim, and
// its user against a user-limited channel.
func TestSubscriptionTokens(t *testing.T) {
	e := newEnv(t)
	pos := e.publish(t, "private:s", 2)
	dm := e.publish(t, "private:dm#42", 1)
	mint := func(user, channel string) string {
		t.Helper()
		tok, err := auth.Mint(secret, auth.MintClaims{User: user, Channel: channel, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	path := historyPath("private:s", pos.Epoch, 0)
	valid := mint("42", "private:s")
	a := e.get(t, path, "Authorization", "Bearer "+valid)
	if a.status != http.StatusOK || len(a.page.Publications) != 2 || a.header.Get("Cache-Control") != "private, max-age=1" {
		t.Fatalf("valid, in the header: %d %+v %q", a.status, a.page, a.header.Get("Cache-Control"))
	}
	a = e.get(t, path+"&token="+valid)
	if a.status != http.StatusOK || len(a.page.Publications) != 2 || a.header.Get("Cache-Control") != "public, max-age=1" {
		t.Fatalf("valid, in the URL: %d %+v %q", a.status, a.page, a.header.Get("Cache-Control"))
	}
	if a := e.get(t, historyPath("private:dm#42", dm.Epoch, 0)+"&token="+mint("42", "private:dm#42")); a.status != http.StatusOK {
		t.Fatalf("a user-limited channel, its user's token: %d %+v", a.status, a.page.Error)
	}
	for _, c := range []struct {
		name, path, token string
		code              herald.ErrorCode
	}{
		{"expired", path, expiredSubscriptionToken(t, "42", "private:s"), herald.ErrTokenExpired},
		{"another channel's", path, mint("42", "private:other"), herald.ErrUnauthorized},
		{"another user's, in a user-limited channel", historyPath("private:dm#42", dm.Epoch, 0), mint("7", "private:dm#42"), herald.ErrPermissionDenied},
		{"forged", path, valid[:len(valid)-4] + "AAAA", herald.ErrUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, how := range []string{"header", "query"} {
				var a answer
				if how == "header" {
					a = e.get(t, c.path, "Authorization", "Bearer "+c.token)
				} else {
					a = e.get(t, c.path+"&token="+url.QueryEscape(c.token))
				}
				if a.page.Error == nil || a.page.Error.Code != uint32(c.code) || a.status != c.code.HTTPStatus() || a.header.Get("Cache-Control") != "no-store" {
					t.Fatalf("in the %s: %d %+v %q, want code %d", how, a.status, a.page.Error, a.header.Get("Cache-Control"), c.code)
				}
			}
		})
	}
}

// expiredSubscriptionToken signs, as a backend would, a subscription
// token that expired a minute ago (auth.Mint makes only live ones).
func expiredSubscriptionToken(t *testing.T, user, channel string) string {
	t.Helper()
	b64 := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := b64(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." +
		b64(map[string]any{"sub": user, "channel": channel, "exp": time.Now().Add(-time.Minute).Unix()})
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(head))
	return head + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
