package deploy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldrt/herald/historyhttp"
)

// startHistoryCache runs one Herald node serving the "feed" namespace's
// history over HTTP behind nginx with the shipped history-cache.conf and
// history-cache-zone.conf (the cache directory moved into the test's).
func startHistoryCache(t *testing.T) (herald, proxy string) {
	t.Helper()
	herald = startHerald(t, `HERALD_NAMESPACES={"feed":{"history_size":300,"history_ttl":"5m","history_http":true}}`)
	proxy = startNginxWith(t, []string{herald}, "60s", func(dir string) (string, string) {
		for name, fix := range map[string][2]string{
			"history-cache-zone.conf": {"/var/cache/nginx/herald-history", filepath.Join(dir, "history-cache")},
			"history-cache.conf":      {},
		} {
			b, err := os.ReadFile(filepath.Join("nginx", name))
			if err != nil {
				t.Fatal(err)
			}
			conf := string(b)
			if fix[0] != "" {
				if !strings.Contains(conf, fix[0]) {
					t.Fatalf("%s has no %s to move", name, fix[0])
				}
				conf = strings.ReplaceAll(conf, fix[0], fix[1])
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return "include " + dir + "/history-cache-zone.conf;", "include " + dir + "/history-cache.conf;"
	})
	return herald, proxy
}

// catchUp reads channel's history from offset 0 through the proxy, page
// by page as a recovering client does, and returns the offsets read and
// each page's X-Cache-Status.
func catchUp(t *testing.T, proxy, channel, epoch string) (offsets []uint64, cache []string) {
	t.Helper()
	var since uint64
	for range 100 {
		u := fmt.Sprintf("http://%s/history/%s?epoch=%s&since=%d", proxy, url.PathEscape(channel), url.QueryEscape(epoch), since)
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, res.StatusCode, body)
		}
		var p historyhttp.Page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("GET %s: %v in %s", u, err, body)
		}
		cache = append(cache, res.Header.Get("X-Cache-Status"))
		for _, pub := range p.Publications {
			offsets = append(offsets, pub.Offset)
		}
		if p.Next == nil {
			return offsets, cache
		}
		since = *p.Next
	}
	t.Fatal("more than 100 pages")
	return nil, nil
}

// A second client catching up on the same channel is served the pages
// below the top from nginx's cache, and a page it has is answered 304 from
// the cache too.
func TestNginxCachesHistoryPages(t *testing.T) {
	herald, proxy := startHistoryCache(t)
	const channel = "feed:live/scores" // a '/' travels escaped, as %2F
	for i := range 250 {
		publish(t, "http://"+herald, channel, fmt.Sprint(i))
	}
	_, body := apiCall(t, "http://"+herald, "history", `{"channel":"`+channel+`","limit":0}`)
	var pos struct {
		Epoch  string `json:"epoch"`
		Offset uint64 `json:"offset"`
	}
	if err := json.Unmarshal([]byte(body), &pos); err != nil || pos.Offset != 250 {
		t.Fatalf("position %s: %v", body, err)
	}

	first, cache := catchUp(t, proxy, channel, pos.Epoch)
	// Pages of 100: 1..100 and 101..200 are final, 201..250 the open end.
	if len(first) != 250 || first[0] != 1 || first[249] != 250 {
		t.Fatalf("first client read %d publications", len(first))
	}
	if strings.Join(cache, ",") != "MISS,MISS,MISS" {
		t.Fatalf("first client's pages: %v, want three misses", cache)
	}
	second, cache := catchUp(t, proxy, channel, pos.Epoch)
	if len(second) != 250 {
		t.Fatalf("second client read %d publications", len(second))
	}
	// The open end may have expired in between (it lives a second):
	// only the final pages are certain hits.
	if len(cache) != 3 || cache[0] != "HIT" || cache[1] != "HIT" {
		t.Fatalf("second client's pages: %v, want the first two from the cache", cache)
	}

	u := fmt.Sprintf("http://%s/history/%s?epoch=%s&since=0", proxy, url.PathEscape(channel), url.QueryEscape(pos.Epoch))
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified || res.Header.Get("X-Cache-Status") != "HIT" {
		t.Fatalf("If-None-Match through the cache: %d %s", res.StatusCode, res.Header.Get("X-Cache-Status"))
	}

	// Herald saw each final page once: the second client's came from nginx.
	res, err = http.Get("http://" + herald + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(m), `herald_history_http_requests_total{page="final"} 2`+"\n") {
		t.Fatalf("Herald's count of final pages is not 2:\n%s", grepLines(string(m), "herald_history_http"))
	}

	// An error is not cached: a wrong epoch is refused each time by Herald.
	for range 2 {
		res, err := http.Get(fmt.Sprintf("http://%s/history/%s?epoch=old&since=0", proxy, url.PathEscape(channel)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"code":117`) || res.Header.Get("X-Cache-Status") != "MISS" {
			t.Fatalf("wrong epoch: %d %s %s", res.StatusCode, res.Header.Get("X-Cache-Status"), b)
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
