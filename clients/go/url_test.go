package client

import "testing"

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8000", "ws://127.0.0.1:8000/connection/websocket"},
		{"https://herald.example.com/", "wss://herald.example.com/connection/websocket"},
		{"ws://h/connection/websocket", "ws://h/connection/websocket"},
		{"wss://h/rt/connection/websocket/", "wss://h/rt/connection/websocket"},
		{"HTTPS://h/rt", "wss://h/rt/connection/websocket"},
		{"http://h/?region=eu#x", "ws://h/connection/websocket?region=eu"},
	} {
		got, err := endpointURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("endpointURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "localhost:8000", "ftp://h", "http://", "http://h:x"} {
		if got, err := endpointURL(bad); err == nil {
			t.Errorf("endpointURL(%q) = %q, want an error", bad, got)
		}
	}
}
