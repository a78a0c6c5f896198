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

// topologyLoad is one node publishing without pause to a few channels
// and another node subscribed to them, on a cluster whose topology a
// test changes meanwhile.
type topologyLoad struct {
	c                *redistest.Cluster
	pubNode, subNode *redis.Broker
	rsub             *lossRecorder
	channels         []string
	pubs             map[string]*redistest.Publisher
}

// The periodic refresh is off (an hour), so that what is followed is
// followed from what Redis tells the subscribing node.
func startTopologyLoad(t *testing.T, c *redistest.Cluster, channels ...string) *topologyLoad {
	opts := redis.Options{Addresses: c.Addrs(), Cluster: true, ReconnectDelay: 50 * time.Millisecond,
		ClusterRefreshInterval: time.Hour}
	l := &topologyLoad{c: c, rsub: &lossRecorder{}, channels: channels, pubs: map[string]*redistest.Publisher{}}
	l.pubNode, l.subNode = startNode(t, opts, &brokertest.Recorder{}), startNode(t, opts, l.rsub)
	ctx := context.Background()
	keep := herald.PublishOptions{HistorySize: 100000, HistoryTTL: time.Hour}
	for _, ch := range channels {
		if err := l.subNode.Subscribe(ctx, ch); err != nil {
			t.Fatal(err)
		}
		l.pubs[ch] = redistest.StartPublisher(t, func(data []byte) (herald.StreamPosition, error) {
			return l.pubNode.Publish(ctx, ch, data, keep)
		})
	}
	return l
}

// resumes waits for delivery on ch to go on: what is published next
// arrives.
func (l *topologyLoad) resumes(t *testing.T, ch string) {
	t.Helper()
	// How long the first publication acknowledged after the change took
	// to arrive: logged, not asserted (a loaded machine is slower).
	start, first := time.Now(), l.pubs[ch].Count()+1
	l.pubs[ch].WaitAcked(t, 1)
	l.rsub.WaitPublications(t, ch, first)
	t.Logf("%s: delivery resumed %s after the change", ch, time.Since(start).Round(time.Millisecond))
	after := l.pubs[ch].Count() + 200
	l.pubs[ch].WaitAcked(t, 200)
	l.rsub.WaitPublications(t, ch, after)
}

// controlArrives publishes control messages until one reaches the
// subscribing node: one published while its control channel moves is
// lost (it has no history).
func (l *topologyLoad) controlArrives(t *testing.T) {
	t.Helper()
	had := len(l.rsub.Controls())
	deadline := time.Now().Add(30 * time.Second)
	for len(l.rsub.Controls()) == had {
		if err := l.pubNode.PublishControl(context.Background(), []byte("after the change")); err != nil {
			t.Logf("publish control: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no control message reached the subscribing node within 30s of the change")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// check stops publishing and checks that every acknowledged publication
// was delivered once, in order, and that no loss was reported: history
// held everything.
func (l *topologyLoad) check(t *testing.T) {
	t.Helper()
	for _, ch := range l.channels {
		acked, fails := l.pubs[ch].Finish()
		got := l.rsub.WaitPublications(t, ch, len(acked))
		for i, a := range acked {
			if got[i].StreamPosition != a.StreamPosition || string(got[i].Data) != string(a.Data) {
				t.Fatalf("%s: delivery %d is %+v %s, want %+v %s", ch, i, got[i].StreamPosition, got[i].Data, a.StreamPosition, a.Data)
			}
		}
		// Every acknowledged publication came once and in order; anything
		// delivered beyond them is a duplicate.
		dups := len(l.rsub.Publications(ch)) - len(acked)
		t.Logf("%s: published %d (%d publishes failed during the change), delivered %d, duplicates %d, losses reported %d",
			ch, len(acked), fails, len(got), dups, l.rsub.lossCount(ch))
		if dups != 0 || l.rsub.lossCount(ch) != 0 {
			t.Fatalf("%s: %d duplicates and %d losses, want none", ch, dups, l.rsub.lossCount(ch))
		}
	}
	st := l.subNode.Stats()
	t.Logf("caught up from history %d, losses %d", st.CaughtUp, st.Lost)
	if st.Lost != 0 {
		t.Fatalf("%d losses counted by the broker, want none", st.Lost)
	}
}

// The slots of two channels, and of the control channel, move to other
// masters under load. Publishing goes on (rueidis follows MOVED and ASK),
// the subscribing node moves its SSUBSCRIBEs to the new masters on
// Redis's sunsubscribe pushes and catches up from history. Then a
// channel is subscribed after its slot moved, through a MOVED.
func TestClusterReshardUnderLoad(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	l := startTopologyLoad(t, c, "moves", "stays", "moves-too")
	other := func(slot int) *redistest.Server { // a master not serving slot
		owner := c.Owner(t, slot)
		for _, n := range c.Nodes {
			if n != owner {
				return n
			}
		}
		return nil
	}
	for _, ch := range []string{"moves", "moves-too"} {
		l.pubs[ch].WaitAcked(t, 200)
		s := redis.ChannelSlot("herald", ch)
		c.MoveSlot(t, s, other(s))
		l.resumes(t, ch)
	}
	cs := redis.ControlSlot("herald")
	c.MoveSlot(t, cs, other(cs))
	l.controlArrives(t)
	l.check(t)

	// A channel the subscribing node never had moves: nothing tells the
	// node, and its SSUBSCRIBE at the old master answers MOVED, on which
	// it reads the map again and subscribes at the new one.
	const late = "subscribed-after-its-move"
	ls := redis.ChannelSlot("herald", late)
	c.MoveSlot(t, ls, other(ls))
	ctx := context.Background()
	if err := l.subNode.Subscribe(ctx, late); err != nil {
		t.Fatalf("subscribe to a channel whose slot moved: %v", err)
	}
	pos, err := l.pubNode.Publish(ctx, late, []byte("1"), herald.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.rsub.WaitPublications(t, late, 1); got[0].StreamPosition != pos {
		t.Fatalf("%s: delivered %+v, want %+v", late, got[0].StreamPosition, pos)
	}
}

// A replica takes over from the master of a channel and of the control
// channel (CLUSTER FAILOVER) under load: publishing goes on, and the
// subscribing node follows to the new master and catches up.
func TestClusterFailoverUnderLoad(t *testing.T) {
	c := redistest.StartClusterReplicas(t, 3, 1)
	l := startTopologyLoad(t, c, "fails-over", "elsewhere")
	l.pubs["fails-over"].WaitAcked(t, 200)
	master := c.Owner(t, redis.ChannelSlot("herald", "fails-over"))
	controlMaster := c.Owner(t, redis.ControlSlot("herald"))
	c.Failover(t, master)
	l.resumes(t, "fails-over")
	if controlMaster != master {
		c.Failover(t, controlMaster)
	}
	l.controlArrives(t)
	l.resumes(t, "elsewhere")
	l.check(t)
}
