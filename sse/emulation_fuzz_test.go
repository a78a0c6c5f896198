package sse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/errbody"
	"github.com/heraldrt/herald/sse"
)

// fuzzStream is an HTTP stream whose messages are read and dropped, so
// that whatever the fuzzer makes the session send never backs up; bad
// records a line that is not a protocol message.
type fuzzStream struct {
	session, token string
	cancel         context.CancelFunc
	done           chan struct{}
	bad            atomic.Value // string
}

func openFuzzStream(tb testing.TB, base string) *fuzzStream {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := base + "/connection/" + sse.HTTPStream + "?connect=" + url.QueryEscape(connect)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		cancel()
		tb.Fatalf("open a stream: %v %v", res, err)
	}
	s := &fuzzStream{cancel: cancel, done: make(chan struct{})}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pre struct{ Session, Token string }
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &pre) != nil {
		cancel()
		res.Body.Close()
		tb.Fatalf("no session preamble: %q", sc.Text())
	}
	s.session, s.token = pre.Session, pre.Token
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		for sc.Scan() {
			if line := sc.Bytes(); len(line) > 0 && (line[0] != '{' || !json.Valid(line)) {
				s.bad.Store(string(line))
			}
		}
	}()
	return s
}

func (s *fuzzStream) close() { s.cancel(); <-s.done }

func (s *fuzzStream) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// FuzzEmulation posts what the fuzzer makes (headers and body) to the
// emulation endpoint of a real node, as a live stream's session when own
// is set. Every answer is 204 or an error with a catalog code and a
// message; the stream only ever carries protocol messages; the node
// keeps serving (a new stream opens) whatever came before.
func FuzzEmulation(f *testing.F) {
	n := startNode(f, nil, sse.Options{MaxMessageSize: 4096, RelayTimeout: 50 * time.Millisecond})
	var s *fuzzStream
	f.Cleanup(func() {
		if s != nil {
			s.close()
		}
	})
	for _, seed := range []struct {
		own                         bool
		ctype, session, token, body string
	}{
		{true, "application/json", "", "", `{"id":2,"subscribe":{"channel":"news"}}` + "\n" + `{"id":3,"publish":{"channel":"news","data":{"x":1}}}`},
		{true, "application/json; charset=utf-8", "", "", `{"id":2,"ping":{}}`},
		{true, "application/json", "", "", `{"id":2,"connect":{}}`},
		{true, "application/json", "", "", `{"id":2,"rpc":{"method":"x","data":null}}` + "\n\n" + `{"pong":{}}`},
		{true, "application/json", "", "", "\x00\xffnot json"},
		{true, "text/plain", "", "", `{"id":2,"ping":{}}`},
		{true, "application/json", "", "", `[1,2]`},
		{false, "application/json", "ffffffffffffffff.00", "t", `{"id":5,"ping":{}}`},
		{false, "application/json", ".", "", `{}`},
		{false, "application/json;;", "x", "y", `{"id":1}`},
	} {
		f.Add(seed.own, seed.ctype, seed.session, seed.token, seed.body)
	}
	f.Fuzz(func(t *testing.T, own bool, ctype, session, token, body string) {
		if s == nil || s.ended() {
			if s != nil {
				s.close()
			}
			s = openFuzzStream(t, n.URL)
		}
		if own {
			session, token = s.session, s.token
		}
		req := httptest.NewRequest(http.MethodPost, "/connection/emulation", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set(sse.HeaderSession, session)
		req.Header.Set(sse.HeaderToken, token)
		rec := httptest.NewRecorder()
		n.emulation.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			if _, err := errbody.Check(rec.Body.Bytes()); err != nil {
				t.Fatalf("answer %d: %v", rec.Code, err)
			}
			if rec.Code < 400 || rec.Code > 599 {
				t.Fatalf("answer %d %q: want 204 or an HTTP error", rec.Code, rec.Body)
			}
		}
		if bad, _ := s.bad.Load().(string); bad != "" {
			t.Fatalf("the stream carried %q, not a protocol message", bad)
		}
	})
}
