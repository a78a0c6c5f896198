package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldrt/herald/hooks"
)

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  hooks.Config
		want string
	}{
		{"relative", hooks.Config{ConnectURL: "/hooks/connect"}, "hooks.connect_url"},
		{"no scheme", hooks.Config{RefreshURL: "app.example.com/refresh"}, "hooks.refresh_url"},
		{"ftp", hooks.Config{SubscribeURL: "ftp://app.example.com/sub"}, "hooks.subscribe_url"},
		{"no host", hooks.Config{PublishURL: "http:///publish"}, "hooks.publish_url: \"http:///publish\" has no host"},
		{"unparsable", hooks.Config{RPCURL: "http://a b.example/%zz"}, "hooks.rpc_url"},
		{"fragment", hooks.Config{ConnectURL: "https://app.example.com/c#x"}, "fragment"},
		{"password redacted", hooks.Config{ConnectURL: "ftp://u:hunter2@app.example.com/"}, "u:xxxxx@"},
		{"bad header name", hooks.Config{Headers: map[string]string{"X Secret": "s"}}, "hooks.headers: \"X Secret\" is not a valid header name"},
		{"header value with newline", hooks.Config{Headers: map[string]string{"X-Secret": "a\r\nHost: evil"}}, "hooks.headers"},
		{"framing header", hooks.Config{Headers: map[string]string{"content-length": "1"}}, "hooks.headers: Content-Length is set by Herald itself"},
		{"bad forward name", hooks.Config{ForwardHeaders: []string{"Cookie", ""}}, "hooks.forward_headers"},
		{"forward host", hooks.Config{ForwardHeaders: []string{"Host"}}, "hooks.forward_headers: Host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hooks.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatal("the error shows a password")
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	c, err := hooks.New(hooks.Config{
		ConnectURL: "https://app.example.com/herald/connect?v=1",
		RPCURL:     "http://10.0.0.1:8080/rpc",
		Headers:    map[string]string{"authorization": "Bearer herald"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for h, on := range map[hooks.Hook]bool{
		hooks.ConnectHook: true, hooks.RPCHook: true,
		hooks.RefreshHook: false, hooks.SubscribeHook: false, hooks.PublishHook: false,
	} {
		if c.Enabled(h) != on {
			t.Errorf("%s enabled %v, want %v", h, !on, on)
		}
	}
	// The defaults forward exactly these.
	h := http.Header{}
	for _, name := range []string{"Cookie", "Authorization", "User-Agent", "X-Forwarded-For", "Origin", "X-Other"} {
		h.Set(name, "v")
	}
	h.Add("Cookie", "b=2")
	h.Add("X-Forwarded-For", "192.0.2.7")
	got := c.ForwardedHeaders(h)
	want := map[string]string{"Cookie": "v; b=2", "Authorization": "v", "User-Agent": "v", "X-Forwarded-For": "v, 192.0.2.7", "Origin": "v"}
	if len(got) != len(want) {
		t.Fatalf("forwarded %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("forwarded %v, want %v", got, want)
		}
	}
}
