package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
)

// adminGet asks node base's admin API and decodes the answer into v.
func adminGet(t *testing.T, base, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "admin "+testAdminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// What the admin UI shows of a cluster, through real Redis: a tap on one
// node sees what is published on the other to a channel no node has a
// subscriber of, either node lists both, and one node's disconnects are
// in the other's per-minute series. The binary serves the UI itself.
func TestAdminUIEndpointsAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b := startAdminNodes(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b+"/admin/api/tap?channel=audit", nil)
	req.Header.Set("Authorization", "admin "+testAdminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	var line hub.TapLine
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &line) != nil || line.Event != "tap_started" {
		t.Fatalf("first tap line %q, want tap_started", lines.Text())
	}
	if code, body := apiPublishQuiet(a, "audit", `{"who":"ops"}`); code != http.StatusOK {
		t.Fatalf("publish on node-a: %d %s", code, body)
	}
	if !lines.Scan() || json.Unmarshal(lines.Bytes(), &line) != nil || string(line.Data) != `{"who":"ops"}` {
		t.Fatalf("tap line on node-b %q, want node-a's publication", lines.Text())
	}
	cancel()

	var nodes struct {
		Nodes []struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	waitFor(t, "node-b to list both nodes", func() bool {
		adminGet(t, b, "/admin/api/nodes", &nodes)
		return len(nodes.Nodes) == 2 && nodes.Nodes[0].Name == "node-b" && nodes.Nodes[1].Name == "node-a"
	})

	// A connection on node-a that goes away without a close frame.
	gone := dialRaw(t, a)
	gone.send(t, fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, mintTest(t, "gone", time.Hour)))
	gone.readAll()
	waitFor(t, "the connection to be live", func() bool {
		return len(adminConnections(t, a, "user=gone").Connections) == 1
	})
	gone.c.CloseNow()
	waitFor(t, "node-b to count node-a's disconnect", func() bool {
		var res hub.DisconnectsResult
		adminGet(t, b, "/admin/api/disconnects?minutes=2", &res)
		n := 0
		for _, m := range res.Minutes {
			n += m.Codes["0"]
		}
		return len(res.Minutes) == 2 && n >= 1 && res.Names["0"] == "connection_lost"
	})

	ui, err := http.Get(a + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(ui.Body)
	ui.Body.Close()
	if ui.StatusCode != http.StatusOK || !strings.Contains(string(page), "/admin/admin.js") {
		t.Fatalf("GET /admin/: %s, want the UI's page", ui.Status)
	}
}
