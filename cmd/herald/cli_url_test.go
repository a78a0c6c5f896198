package main

import (
	"net/url"
	"strings"
	"testing"
)

func TestWebsocketURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string // substring of the error; "" means no error
	}{
		{in: "http://127.0.0.1:8000", want: "ws://127.0.0.1:8000/connection/websocket"},
		{in: "http://127.0.0.1:8000/", want: "ws://127.0.0.1:8000/connection/websocket"},
		{in: "https://herald.example.com", want: "wss://herald.example.com/connection/websocket"},
		{in: "HTTPS://herald.example.com", want: "wss://herald.example.com/connection/websocket"},
		{in: "ws://localhost:8000", want: "ws://localhost:8000/connection/websocket"},
		{in: "wss://localhost:8000/", want: "wss://localhost:8000/connection/websocket"},
		{in: "http://host/herald", want: "ws://host/herald/connection/websocket"},
		{in: "http://host/herald/", want: "ws://host/herald/connection/websocket"},
		{in: "https://host/a/b", want: "wss://host/a/b/connection/websocket"},
		{in: "ws://host:1/connection/websocket", want: "ws://host:1/connection/websocket"},
		{in: "http://host/herald/connection/websocket", want: "ws://host/herald/connection/websocket"},
		{in: "wss://host/connection/websocket/", want: "wss://host/connection/websocket"},
		{in: "http://host/connection/websocket?v=1", want: "ws://host/connection/websocket?v=1"},
		{in: "http://[::1]:8000", want: "ws://[::1]:8000/connection/websocket"},
		{in: "http://host/a%20b", want: "ws://host/a%20b/connection/websocket"},

		{in: "", wantErr: "empty URL"},
		{in: "127.0.0.1:8000", wantErr: "did you mean http://127.0.0.1:8000"},
		{in: "localhost:8000", wantErr: "no scheme"},
		{in: "ftp://host", wantErr: `scheme "ftp"`},
		{in: "http://", wantErr: "no host"},
		{in: "http:///path", wantErr: "no host"},
		{in: "http://host:port", wantErr: "invalid URL"},
		{in: "http://host/#frag", wantErr: "fragment"},
		{in: "http://ho st", wantErr: "invalid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := websocketURL(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("websocketURL(%q) = %q, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("websocketURL(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("websocketURL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("websocketURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAPIURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "http://127.0.0.1:8000", want: "http://127.0.0.1:8000/api/publish"},
		{in: "https://herald.example.com/", want: "https://herald.example.com/api/publish"},
		{in: "http://host/herald", want: "http://host/herald/api/publish"},
		{in: "http://host/herald/api/publish", want: "http://host/herald/api/publish"},

		// The endpoint URL the server prints at start, as sub and check take it.
		{in: "ws://127.0.0.1:8000/connection/websocket", want: "http://127.0.0.1:8000/api/publish"},
		{in: "wss://host/herald/connection/websocket/", want: "https://host/herald/api/publish"},
		{in: "http://127.0.0.1:8000/connection/websocket", want: "http://127.0.0.1:8000/api/publish"},
		{in: "ftp://host", wantErr: "not one of http, https, ws, wss"},
		{in: "host:8000", wantErr: "no scheme"},
		{in: "http://", wantErr: "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := apiURL(tt.in, publishPath)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("apiURL(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("apiURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzWebsocketURL checks that whatever a person types either fails with
// an error or gives a ws/wss URL of the endpoint that parses back.
func FuzzWebsocketURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8000", "https://h/p/", "ws://h/connection/websocket", "wss://[::1]:1/x?y#z", "h:1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := websocketURL(in)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("websocketURL(%q) = %q, which does not parse: %v", in, got, err)
		}
		if u.Scheme != "ws" && u.Scheme != "wss" {
			t.Fatalf("websocketURL(%q) = %q: scheme %q", in, got, u.Scheme)
		}
		if !strings.HasSuffix(u.Path, websocketPath) {
			t.Fatalf("websocketURL(%q) = %q: path %q does not end with %s", in, got, u.Path, websocketPath)
		}
	})
}
