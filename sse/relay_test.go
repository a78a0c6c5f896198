package sse_test

import (
	"net/http"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/redis"
	"github.com/heraldrt/herald/sse"
)

func redisNode(t *testing.T, addr string) *node {
	t.Helper()
	b, err := redis.New(redis.Options{Addresses: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	return startNode(t, b, sse.Options{})
}

// TestRelayBetweenNodes: with two nodes on one Redis and no stickiness, a
// stream's commands POSTed to the other node reach it, and that node's
// refusals come back to the POST as they would from the stream's own.
func TestRelayBetweenNodes(t *testing.T) {
	rs := redistest.Start(t)
	a, b := redisNode(t, rs.Addr), redisNode(t, rs.Addr)
	for _, tr := range []string{sse.SSE, sse.HTTPStream} {
		t.Run(tr, func(t *testing.T) {
			s := openStream(t, a.URL, tr, connect)
			s.next()
			body := `{"id":2,"subscribe":{"channel":"relay"}}` + "\n" + `{"id":3,"publish":{"channel":"relay","data":"via b"}}`
			if st, out := post(t, b.URL, s.session, s.token, "application/json", body); st != http.StatusNoContent {
				t.Fatalf("POST to the other node: %d %v", st, out)
			}
			s.until(func(m map[string]any) bool { return m["pub"] != nil })
			other := openStream(t, b.URL, tr, connect)
			other.next()
			if st, out := post(t, b.URL, s.session, other.token, "application/json", `{"id":4,"ping":{}}`); st != 403 || errCode(out) != float64(herald.ErrPermissionDenied) {
				t.Fatalf("another session's token through the other node: %d %v", st, out)
			}
			s.close()
			// The stream's end reaches its node's registry once the handler
			// returns; until then a POST is still delivered.
			var st int
			var out map[string]any
			for st != 404 {
				st, out = post(t, b.URL, s.session, s.token, "application/json", `{"id":5,"ping":{}}`)
				if st != 404 && st != http.StatusNoContent {
					t.Fatalf("POST for an ended stream: %d %v", st, out)
				}
			}
			if errCode(out) != float64(herald.ErrUnknownSession) {
				t.Fatalf("POST for an ended stream: %v", out)
			}
			if st, out := post(t, a.URL, other.session, other.token, "application/json", `{"id":6,"ping":{}}`); st != http.StatusNoContent {
				t.Fatalf("the other stream, through a: %d %v", st, out)
			}
			other.until(hasID(6))
		})
	}
}
