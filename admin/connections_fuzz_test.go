package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/errbody"
	"github.com/heraldrt/herald/memory"
)

// sink is a transport that takes every write.
type sink struct{}

func (sink) Name() string                  { return "fuzz" }
func (sink) Write([][]byte) error          { return nil }
func (sink) Close(herald.Disconnect) error { return nil }

// FuzzConnectionsQuery drives the two things outside input reaches in
// GET /admin/api/connections: a client's last_disconnect report (any
// code and reason it likes), which lands on its timeline, and the
// query's user, client, limit and Authorization. The answer is always
// JSON: the connections, or an error with a catalog code and a message.
func FuzzConnectionsQuery(f *testing.F) {
	log := slog.New(slog.DiscardHandler)
	h := hub.New(hub.Config{TimelineKeep: 20, Logger: log}, memory.New())
	if err := h.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx, 0)
		h.Close()
	})
	api := NewHandler(Options{Secret: "s3cret", Logger: log}, h)
	f.Add("", "", "", "admin s3cret", uint32(1006), "abnormal closure")
	f.Add("u", "", "5", "admin s3cret", uint32(4000), "server shutting down")
	f.Add("", "c", "-1", "admin s3cret", uint32(70000), "\xff\xfe")
	f.Add("", "", "99999999999999999999", "ADMIN s3cret ", uint32(0), "")
	f.Add("", "", "", "admin nope", uint32(1), "\u2028<script>")
	f.Add("", "", "1", "", uint32(2), "x")
	f.Fuzz(func(t *testing.T, user, client, limit, authz string, code uint32, reason string) {
		s, err := h.Accept(sink{}, herald.ConnInfo{RemoteAddr: "127.0.0.1:1", Transport: "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		connect, _ := json.Marshal(map[string]any{"id": 1, "connect": map[string]any{
			"last_disconnect": map[string]any{"code": code, "reason": reason}}})
		s.HandleFrame(connect)
		q := url.Values{}
		for k, v := range map[string]string{"user": user, "client": client, "limit": limit} {
			if v != "" {
				q.Set(k, v)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/admin/api/connections?"+q.Encode(), nil)
		req.Header.Set("Authorization", authz)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		s.HandleClose(nil)
		if rec.Code == http.StatusOK {
			var res hub.ConnectionsResult
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.Connections == nil {
				t.Fatalf("200 with %q: want the connections (%v)", rec.Body, err)
			}
			return
		}
		if _, err := errbody.Check(rec.Body.Bytes()); err != nil {
			t.Fatalf("answer %d: %v", rec.Code, err)
		}
	})
}
