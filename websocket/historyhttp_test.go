package websocket_test

import (
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

// The subscribe reply says history_http only where anyone may read the
// channel's history over HTTP: the namespace serves it, and neither the
// subscribe nor the history access asks for a user.
func TestSubscribeReplySaysHistoryHTTP(t *testing.T) {
	ts := startQuiet(t, hub.Config{Namespaces: herald.Namespaces{Named: map[string]herald.NamespaceOptions{
		"feed":    {HistorySize: 10, HistoryTTL: time.Minute, HistoryHTTP: true},
		"readers": {HistorySize: 10, HistoryTTL: time.Minute, HistoryHTTP: true, HistoryAccess: herald.AccessUser},
		"plain":   {HistorySize: 10, HistoryTTL: time.Minute},
	}}})
	c := dial(t, ts, nil)
	c.connect()
	for channel, want := range map[string]any{"feed:a": true, "readers:a": nil, "plain:a": nil} {
		res := c.subscribeResult(`{"channel":"` + channel + `"}`)
		if res["history_http"] != want || res["recoverable"] != true {
			t.Errorf("%s: %v, want history_http %v", channel, res, want)
		}
	}
	res := c.subscribeResult(`{"channel":"feed:b","recover":true}`)
	if res["history_http"] != true {
		t.Errorf("with recover: %v, want history_http", res)
	}
}
