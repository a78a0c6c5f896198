package demo_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/demo"
)

const secret = "0123456789abcdef0123456789abcdef"

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestFiles(t *testing.T) {
	srv := httptest.NewServer(demo.Handler(demo.Options{Secret: secret}))
	defer srv.Close()
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", "<title>Herald chat demo</title>"},
		{"/demo/chat.js", "text/javascript; charset=utf-8", "new Herald.Client"},
		{"/demo/chat.css", "text/css; charset=utf-8", "#badge"},
		{"/demo/herald.min.js", "text/javascript; charset=utf-8", "Herald"},
		{"/demo/herald-shared.min.js", "text/javascript; charset=utf-8", "sharedFactory"},
		{"/demo/herald-shared-worker.min.js", "text/javascript; charset=utf-8", "onconnect"},
	} {
		resp, body := get(t, srv.URL+tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", tc.path, resp.Status)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if !strings.Contains(body, tc.contains) {
			t.Errorf("GET %s: body does not contain %q", tc.path, tc.contains)
		}
	}
	for _, path := range []string{"/index.html.bak", "/other", "/demo/nope.js"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
}

func postToken(t *testing.T, url, body string) (int, map[string]json.RawMessage) {
	t.Helper()
	resp, err := http.Post(url+"/demo/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var out map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestToken(t *testing.T) {
	srv := httptest.NewServer(demo.Handler(demo.Options{Secret: secret}))
	defer srv.Close()
	code, out := postToken(t, srv.URL, `{"user":"u-1","name":"Ann"}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, out["error"])
	}
	var tok string
	if err := json.Unmarshal(out["token"], &tok); err != nil {
		t.Fatal(err)
	}
	v, err := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	id, err := v.VerifyConnect(context.Background(), tok)
	if err != nil {
		t.Fatalf("the server refuses the demo's token: %v", err)
	}
	if id.User != "u-1" || string(id.Info) != `{"name":"Ann"}` {
		t.Errorf("token says user %q info %s, want u-1 and the name", id.User, id.Info)
	}
}

func TestTokenBadInput(t *testing.T) {
	srv := httptest.NewServer(demo.Handler(demo.Options{Secret: secret}))
	defer srv.Close()
	for _, tc := range []struct{ body, message string }{
		{`nope`, `send a JSON body`},
		{`{"user":"a#b","name":"Ann"}`, `user must be`},
		{`{"name":"Ann"}`, `user must be`},
		{`{"user":"u","name":""}`, `name must be 1 to 32`},
		{`{"user":"u","name":"` + strings.Repeat("x", 33) + `"}`, `name must be 1 to 32`},
		{`{"user":"u","name":"a\nb"}`, `control characters`},
	} {
		code, out := postToken(t, srv.URL, tc.body)
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(out["error"], &e)
		if code != http.StatusBadRequest || e.Code != 107 || !strings.Contains(e.Message, tc.message) {
			t.Errorf("%s: %d %+v, want 400, code 107 and %q", tc.body, code, e, tc.message)
		}
	}
}

func TestNoSecretNoToken(t *testing.T) {
	srv := httptest.NewServer(demo.Handler(demo.Options{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/demo/token", "application/json", strings.NewReader(`{"user":"u","name":"Ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /demo/token without a secret: %s, want 404", resp.Status)
	}
	if resp, _ := get(t, srv.URL+"/"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET / without a secret: %s, want 200", resp.Status)
	}
}
