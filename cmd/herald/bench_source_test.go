package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// bench's dialer really leaves from the source addresses it is given,
// round-robin: the server sees them as the peers' addresses.
func TestBenchSourcesDialFromEachAddress(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		seen[host]++
		mu.Unlock()
	}))
	defer srv.Close()
	src, err := parseBenchSources("127.0.0.2-127.0.0.4", 10, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		res, err := newBenchWire(1, src).client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	want := map[string]int{"127.0.0.2": 2, "127.0.0.3": 2, "127.0.0.4": 2}
	for a, n := range want {
		if seen[a] != n {
			t.Fatalf("requests by source address %v, want %v", seen, want)
		}
	}
}

func TestBenchSourcesDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec   string
		conns  int
		server string
		want   string
	}{
		{"", 20000, "127.0.0.1", ""},
		{"", 100000, "127.0.0.1", "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4"},
		{"", 100000, "localhost", ""},
		{"2", 10, "127.0.0.1", "127.0.0.1,127.0.0.2"},
		{"127.0.0.9, 127.0.0.7", 10, "127.0.0.1", "127.0.0.9,127.0.0.7"},
	} {
		s, err := parseBenchSources(tc.spec, tc.conns, tc.server)
		if err != nil || s.String() != tc.want {
			t.Errorf("parseBenchSources(%q, %d, %q) = %q, %v; want %q", tc.spec, tc.conns, tc.server, s, err, tc.want)
		}
	}
}
