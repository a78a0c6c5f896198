package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldrt/herald/api"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/errbody"
	"github.com/heraldrt/herald/memory"
)

// FuzzAPIRequest posts what the fuzzer makes to every server API method
// of a real hub (memory broker, history, presence). The answer is always
// JSON: a 200 result, or an error with a catalog code and a message.
func FuzzAPIRequest(f *testing.F) {
	h := hub.New(hub.Config{Namespaces: testNamespaces, Presence: memory.NewPresence(), Logger: slog.New(slog.DiscardHandler)}, memory.New())
	if err := h.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close() })
	handler := api.NewHandler(api.Options{Key: testKey, MaxBodySize: 8 << 10, Logger: slog.New(slog.DiscardHandler)}, h)
	for _, seed := range [][2]string{
		{"publish", `{"channel":"history:a","data":{"x":1},"idempotency_key":"k"}`},
		{"broadcast", `{"channels":["news:a","history:b"],"data":[1,2]}`},
		{"history", `{"channel":"history:a","limit":2,"since":{"offset":1,"epoch":"e"},"reverse":true}`},
		{"history_remove", `{"channel":"history:a"}`},
		{"presence", `{"channel":"room:a"}`},
		{"presence_stats", `{"channel":"room:a"}`},
		{"subscribe", `{"user":"u","channel":"news:a"}`},
		{"unsubscribe", `{"client":"c","channel":"news:a"}`},
		{"disconnect", `{"user":"u","code":4503,"reason":"bye"}`},
		{"channels", `{"pattern":"news:*"}`},
		{"info", `{}`},
		{"batch", `{"commands":[{"publish":{"channel":"news:a","data":1}},{"info":{}}]}`},
		{"publish", `{"channel":"","data":`},
		{"nosuch", `null`},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, method, body string) {
		req := httptest.NewRequest(http.MethodPost, "/api/x", strings.NewReader(body))
		req.URL.Path = "/api/" + method
		req.Header.Set("Authorization", "apikey "+testKey)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("200 with %q: not JSON", rec.Body)
			}
			return
		}
		if _, err := errbody.Check(rec.Body.Bytes()); err != nil {
			t.Fatalf("answer %d: %v", rec.Code, err)
		}
	})
}
