package sse_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/sse"
)

const connect = `{"id":1,"connect":{}}`

// TestEmulationRoundTrip: on both transports, the connect in the query
// is answered on the stream, and POSTed commands are answered there too.
func TestEmulationRoundTrip(t *testing.T) {
	for _, tr := range []string{sse.SSE, sse.HTTPStream} {
		t.Run(tr, func(t *testing.T) {
			n := startNode(t, nil, sse.Options{})
			s := openStream(t, n.URL, tr, connect)
			if !strings.HasPrefix(s.session, n.hub.NodeID()+".") || len(s.token) != 48 {
				t.Fatalf("preamble session %q token %q", s.session, s.token)
			}
			if r := s.next(); r["id"] != 1.0 || r["connect"] == nil {
				t.Fatalf("connect reply %v", r)
			}
			// What an operator counts clients on the fallback by.
			var d dto.Metric
			if err := n.m.Opened.WithLabelValues(tr).Write(&d); err != nil || d.GetCounter().GetValue() != 1 {
				t.Fatalf("herald_connections_opened_total{transport=%q} = %v (%v), want 1", tr, d.GetCounter().GetValue(), err)
			}
			body := `{"id":2,"subscribe":{"channel":"news"}}` + "\n" + `{"id":3,"publish":{"channel":"news","data":{"x":1}}}`
			if st, out := post(t, n.URL, s.session, s.token, "application/json", body); st != http.StatusNoContent {
				t.Fatalf("POST: %d %v", st, out)
			}
			s.until(hasID(2))
			// The publish's reply and its pub may come in either order.
			var gotPub, gotReply bool
			for !gotPub || !gotReply {
				m := s.next()
				if p, ok := m["pub"].(map[string]any); ok {
					if d := p["data"].(map[string]any); d["x"] != 1.0 {
						t.Fatalf("pub %v", m)
					}
					gotPub = true
				}
				gotReply = gotReply || m["id"] == 3.0
			}
		})
	}
}

// TestEmulationBadInput: each kind of bad POST gets its status and code,
// and neither the session it names nor another one is harmed.
func TestEmulationBadInput(t *testing.T) {
	n := startNode(t, nil, sse.Options{MaxMessageSize: 1024, RelayTimeout: time.Second})
	a := openStream(t, n.URL, sse.HTTPStream, connect)
	b := openStream(t, n.URL, sse.SSE, connect)
	a.next()
	b.next()
	cmd := `{"id":5,"ping":{}}`
	cases := []struct {
		name, session, token, ctype, body string
		status                            int
		code                              herald.ErrorCode
	}{
		{"unknown session", n.hub.NodeID() + ".00", a.token, "application/json", cmd, 404, herald.ErrUnknownSession},
		{"unknown node", "ffffffffffffffff.00", a.token, "application/json", cmd, 404, herald.ErrUnknownSession},
		{"another session's token", a.session, b.token, "application/json", cmd, 403, herald.ErrPermissionDenied},
		{"no token", a.session, "", "application/json", cmd, 400, herald.ErrBadRequest},
		{"oversized", a.session, a.token, "application/json", `{"id":5,"ping":{},"pad":"` + strings.Repeat("x", 2000) + `"}`, 413, herald.ErrTooLarge},
		{"wrong content type", a.session, a.token, "text/plain", cmd, 415, herald.ErrBadRequest},
		{"garbage", a.session, a.token, "application/json", "\x00\xffnot json", 400, herald.ErrBadRequest},
		{"not an object", a.session, a.token, "application/json", `[1,2]`, 400, herald.ErrBadRequest},
		{"empty", a.session, a.token, "application/json", "\n", 400, herald.ErrBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, out := post(t, n.URL, c.session, c.token, c.ctype, c.body)
			if st != c.status || errCode(out) != float64(c.code) {
				t.Fatalf("got %d %v, want %d code %d", st, out, c.status, c.code)
			}
			if msg, _ := out["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatal("no message")
			}
		})
	}
	// Both sessions still work, and nothing the refused POSTs held reached them.
	for i, s := range []*stream{a, b} {
		if st, out := post(t, n.URL, s.session, s.token, "application/json", `{"id":9,"ping":{}}`); st != http.StatusNoContent {
			t.Fatalf("stream %d after bad input: %d %v", i, st, out)
		}
		if r := s.next(); r["id"] != 9.0 {
			t.Fatalf("stream %d: got %v before the ping reply", i, r)
		}
	}
}
