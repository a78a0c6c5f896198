package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

// Any node sums the disconnects of every node, by code and minute.
func TestSurveyDisconnectsSumsNodes(t *testing.T) {
	c := newCluster(t, 2, nil)
	a, b := c.hubs[0], c.hubs[1]
	waitNodes(t, a, 2)
	ctx := context.Background()
	for _, h := range []*hub.Hub{a, b} {
		r, s := connect(t, h, "ann")
		clientID(t, r)
		s.HandleClose(nil) // gone without a close frame
	}
	connect(t, b, "bob")
	if err := a.DisconnectTarget(ctx, hub.Target{User: "bob"}, herald.DisconnectForceReconnect); err != nil {
		t.Fatal(err)
	}

	var res hub.DisconnectsResult
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if res, err = a.SurveyDisconnects(ctx, 5); err != nil {
			t.Fatal(err)
		}
		sum := map[string]int{}
		for _, m := range res.Minutes {
			for code, n := range m.Codes {
				sum[code] += n
			}
		}
		if sum["0"] == 2 && sum["4006"] == 1 && len(sum) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("disconnects %v, want 2 without close frame and 1 force_reconnect", sum)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(res.Minutes) != 5 || res.Names["4006"] != "force_reconnect" || res.Names["0"] != "connection_lost" {
		t.Fatalf("result %+v, want 5 minutes and the codes named", res)
	}
	for i := 1; i < len(res.Minutes); i++ {
		if d := res.Minutes[i].Time.Sub(res.Minutes[i-1].Time); d != time.Minute {
			t.Fatalf("minutes %v then %v, want one minute apart, oldest first", res.Minutes[i-1].Time, res.Minutes[i].Time)
		}
	}
	for _, bad := range []int{0, hub.DisconnectMinutes + 1} {
		if _, err := a.SurveyDisconnects(ctx, bad); herald.AsError(err).Code != herald.ErrBadRequest {
			t.Fatalf("minutes=%d: %v, want bad_request", bad, err)
		}
	}
}
