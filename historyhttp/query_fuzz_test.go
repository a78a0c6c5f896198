package historyhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldrt/herald/auth"
	"github.com/heraldrt/herald/authn"
	"github.com/heraldrt/herald/historyhttp"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/internal/errbody"
	"github.com/heraldrt/herald/memory"
)

// FuzzHistoryQuery sends GET /history/{channel} with what the fuzzer
// makes of the path, the query (since, epoch, token), Authorization and
// If-None-Match to the handler in front of a real hub with history. Every
// answer is a page (200), a 304 or an error whose status is its code's,
// with a message.
func FuzzHistoryQuery(f *testing.F) {
	v, err := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	a := authn.New(authn.Options{Verifier: v})
	h := hub.New(hub.Config{Namespaces: namespaces, Auth: a, Logger: slog.New(slog.DiscardHandler)}, memory.New())
	if err := h.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close(); a.Close() })
	for _, ch := range []string{"feed:a", "members:a", "private:a", "plain:a", "small:a"} {
		for i := range 7 {
			if _, err := h.Publish(context.Background(), ch, []byte(fmt.Sprintf(`{"n":%d}`, i)), hub.PublishRequest{}); err != nil {
				f.Fatal(err)
			}
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /history/{channel}", historyhttp.NewHandler(historyhttp.Options{PageSize: 5, Logger: slog.New(slog.DiscardHandler)}, h))

	f.Add("feed:a", "since=0", "", "")
	f.Add("feed:a", "since=5&epoch=x", "", `"abc"`)
	f.Add("small:a", "since=1", "", "*")
	f.Add("members:a", "since=0", "Bearer x.y.z", "")
	f.Add("private:a", "since=0&token=a.b.c", "", "")
	f.Add("private:a", "since=0&token=a", "Bearer b", "")
	f.Add("plain:a", "since=18446744073709551615", "", "")
	f.Add("feed:a", "since=-1", "Basic x", "")
	f.Add("nosuch", "since=%zz&since=1", "", "")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, channel, query, authz, inm string) {
		req, err := http.NewRequest(http.MethodGet, "/history/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Path = "/history/" + channel
		req.URL.RawQuery = query
		req.Header.Set("Authorization", authz)
		req.Header.Set("If-None-Match", inm)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Result().Body)
		switch {
		case rec.Code == http.StatusOK:
			var p historyhttp.Page
			if err := json.Unmarshal(body, &p); err != nil || p.Publications == nil {
				t.Fatalf("200 with %q: want a page (%v)", body, err)
			}
		case rec.Code == http.StatusNotModified:
		case rec.Code == http.StatusNotFound && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json"):
			// The mux's own 404: the path is not /history/{channel}.
		case rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect:
			// The mux cleans paths such as /history/a/../b.
		default:
			code, err := errbody.Check(body)
			if err != nil {
				t.Fatalf("answer %d: %v", rec.Code, err)
			}
			if code.HTTPStatus() != rec.Code {
				t.Fatalf("%d with code %d, whose status is %d", rec.Code, code, code.HTTPStatus())
			}
		}
	})
}
