package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/brokertest"
	"github.com/heraldrt/herald/internal/redistest"
	"github.com/heraldrt/herald/redis"
)

// While one node publishes without pause to three channels and another
// node subscribes to them, the slots of two of the channels, and of the
// control channel, move to other masters. Publishing goes on (rueidis
// follows MOVED and ASK), the subscribing node moves its SSUBSCRIBEs to
// the new masters and catches up from history, and every acknowledged
// publication is delivered once, in order, with no loss reported. The
// periodic refresh is off (an hour), so what is followed is followed from
// Redis's sunsubscribe pushes.
func TestClusterReshardUnderLoad(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	opts := redis.Options{Addresses: c.Addrs(), Cluster: true, ReconnectDelay: 50 * time.Millisecond,
		ClusterRefreshInterval: time.Hour}
	rsub := &lossRecorder{}
	pubNode, subNode := startNode(t, opts, &brokertest.Recorder{}), startNode(t, opts, rsub)
	ctx := context.Background()
	channels := []string{"moves", "stays", "moves-too"}
	keep := herald.PublishOptions{HistorySize: 100000, HistoryTTL: time.Hour}
	pubs := map[string]*redistest.Publisher{}
	for _, ch := range channels {
		if err := subNode.Subscribe(ctx, ch); err != nil {
			t.Fatal(err)
		}
		pubs[ch] = redistest.StartPublisher(t, func(data []byte) (herald.StreamPosition, error) {
			return pubNode.Publish(ctx, ch, data, keep)
		})
	}
	// other is a master that does not serve slot.
	other := func(slot int) *redistest.Server {
		owner := c.Owner(t, slot)
		for _, n := range c.Nodes {
			if n != owner {
				return n
			}
		}
		return nil
	}
	for _, ch := range []string{"moves", "moves-too"} {
		pubs[ch].WaitAcked(t, 200)
		s := redis.ChannelSlot("herald", ch)
		c.MoveSlot(t, s, other(s))
		// Delivery resumes after the move: what is published next arrives.
		after := pubs[ch].Count() + 200
		pubs[ch].WaitAcked(t, 200)
		rsub.WaitPublications(t, ch, after)
	}
	cs := redis.ControlSlot("herald")
	c.MoveSlot(t, cs, other(cs))
	// The control channel is subscribed at its new master in the
	// background; a control message published before that is lost (it
	// has no history), so publish until one arrives.
	deadline := time.Now().Add(30 * time.Second)
	for len(rsub.Controls()) == 0 {
		if err := pubNode.PublishControl(ctx, []byte("after the move")); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no control message reached the subscribing node within 30s of moving the control channel's slot")
		}
		time.Sleep(20 * time.Millisecond)
	}

	for _, ch := range channels {
		acked, fails := pubs[ch].Finish()
		got := rsub.WaitPublications(t, ch, len(acked))
		for i, a := range acked {
			if got[i].StreamPosition != a.StreamPosition || string(got[i].Data) != string(a.Data) {
				t.Fatalf("%s: delivery %d is %+v %s, want %+v %s", ch, i, got[i].StreamPosition, got[i].Data, a.StreamPosition, a.Data)
			}
		}
		// Every acknowledged publication came once and in order; anything
		// delivered beyond them is a duplicate.
		dups := len(rsub.Publications(ch)) - len(acked)
		t.Logf("%s: published %d (%d publishes failed during the move), delivered %d, duplicates %d, losses reported %d",
			ch, len(acked), fails, len(got), dups, rsub.lossCount(ch))
		if dups != 0 || rsub.lossCount(ch) != 0 {
			t.Fatalf("%s: %d duplicates and %d losses, want none: history held everything", ch, dups, rsub.lossCount(ch))
		}
	}
	st := subNode.Stats()
	t.Logf("caught up from history %d, losses %d", st.CaughtUp, st.Lost)
	if st.Lost != 0 {
		t.Fatalf("%d losses counted by the broker, want none", st.Lost)
	}
}
