package websocket_test

import "testing"

// ownPublication reads a client's own publication in channel and the reply
// to its publish id, in either order: a publish is answered once the
// publication has its offset, and its fan-out may reach the client before
// or after that answer.
func ownPublication(t *testing.T, c *client, channel string, id float64) map[string]any {
	t.Helper()
	var pub map[string]any
	replied := false
	for !replied || pub == nil {
		m := c.next()
		switch {
		case m["id"] == id && m["publish"] != nil && !replied:
			replied = true
		case m["pub"] != nil && pub == nil:
			pub = pubPush(t, m, channel)
		default:
			t.Fatalf("got %v, want the reply to publish %v and the publication in %s", m, id, channel)
		}
	}
	return pub
}
