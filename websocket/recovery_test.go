package websocket_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
)

// loadRun is one recovery-under-load scenario: a publisher sends the
// integers 1, 2, 3... (at offsets 1, 2, 3...) while a subscriber reads
// some, is cut without a close frame, comes back with recover, and so on
// for a number of connections, then until it has everything.
type loadRun struct {
	connections int // the subscriber's connections while publishing goes on
	maxRead     int // the most live publications read on one connection
	// maxBurst > 0 makes the publisher publish in bursts at full speed, one
	// of up to maxBurst publications as each subscribe is sent, so that the
	// bursts race the seam; the subscriber then comes back at once. With 0
	// it publishes on its own with short random pauses, and the subscriber
	// comes back after a random short time.
	maxBurst int
}

// loadMax bounds what one run publishes: the history (10000) keeps it all
// and one connection's queue (1 MiB) holds it all, so that a failure is a
// recovery fault, never a trimmed history or a slow consumer, however the
// machine schedules the run.
const loadMax = 9000

// A subscriber cut abruptly and recovering again and again, while the
// channel is being published to, gets every publication exactly once, in
// order: no gap and no repeat at the seam between the recovered
// publications and the live ones.
func TestRecoveryUnderLoad(t *testing.T) {
	runLoad(t, loadRun{connections: 8, maxRead: 300}, 20)
}

// The same with the publications racing the recovery: each subscribe with
// recover is sent as a burst of publications at full speed begins, so the
// server registers the subscriber, reads the history and hands over to
// live delivery while publications pour in.
func TestRecoveryUnderLoadAtFullSpeed(t *testing.T) {
	runLoad(t, loadRun{connections: 12, maxRead: 20, maxBurst: 400}, 20)
}

func runLoad(t *testing.T, run loadRun, iterations int) {
	if testing.Short() {
		iterations = 3
	}
	rng := testRand(t)
	for i := range iterations {
		seed := rng.Uint64()
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			recoverUnderLoad(t, rand.New(rand.NewPCG(seed, ^seed)), run)
		})
	}
}

func recoverUnderLoad(t *testing.T, rng *rand.Rand, run loadRun) {
	ts := startQuiet(t, hub.Config{RecoveryMax: 10000})
	const channel = "big:load"
	bursts := run.maxBurst > 0

	pubRng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	stop, published := make(chan struct{}), make(chan struct{})
	kicks := make(chan int) // burst sizes, in burst mode
	total := 0              // the last integer published, read once published is closed
	publish := func() bool {
		total++
		pos, err := ts.hub.Publish(context.Background(), channel, []byte(strconv.Itoa(total)), hub.PublishRequest{Source: "api"})
		if err != nil || pos.Offset != uint64(total) {
			t.Errorf("publish %d: got offset %d, err %v", total, pos.Offset, err)
			return false
		}
		return true
	}
	go func() {
		defer close(published)
		for total < loadMax {
			if bursts {
				select {
				case <-stop:
					return
				case n := <-kicks:
					for range n {
						if !publish() {
							return
						}
					}
				}
				continue
			}
			select {
			case <-stop:
				return
			default:
			}
			if !publish() {
				return
			}
			if pubRng.IntN(16) == 0 {
				time.Sleep(time.Duration(pubRng.IntN(500)) * time.Microsecond)
			}
		}
	}()
	stopped := false
	stopPublisher := func() {
		if !stopped {
			stopped = true
			close(stop)
			<-published
		}
	}
	defer stopPublisher()

	var (
		last        uint64 // the offset of the last publication received
		epoch       string
		received    int
		connections int
		raced       int // recoveries whose position fell inside the publishing
	)
	accept := func(p map[string]any) {
		t.Helper()
		off := num(p["offset"])
		if off != last+1 {
			t.Fatalf("connection %d: offset %d after %d: a gap or a repeat (%v)", connections, off, last, p)
		}
		if num(p["data"]) != off {
			t.Fatalf("connection %d: offset %d carries %v", connections, off, p["data"])
		}
		if e, ok := p["epoch"]; ok && e != epoch {
			t.Fatalf("connection %d: epoch %v, want %q", connections, e, epoch)
		}
		last = off
		received++
	}
	// end is what the publisher is sure to publish: with bursts, the sum
	// of those asked for; without, loadMax until it is stopped, then what
	// it had published. Reading never waits beyond it, so never for what
	// will not come.
	end := uint64(0)
	if !bursts {
		end = loadMax
	}
	for {
		if connections >= run.connections {
			if !bursts {
				stopPublisher()
				end = uint64(total)
			}
			if last == end {
				break
			}
		}
		connections++
		c := dial(t, ts, nil)
		c.connect()
		from := end
		if bursts && connections <= run.connections {
			n := rng.IntN(run.maxBurst + 1)
			select {
			case kicks <- n:
				end += uint64(n)
			case <-published:
				t.Fatal("the publisher stopped")
			}
		}
		res := c.subscribeResult(recoverBody(channel, last, epoch))
		if res["recovered"] != true || res["recoverable"] != true {
			t.Fatalf("connection %d: recovery from offset %d of %q: %v", connections, last, epoch, res)
		}
		if epoch == "" {
			epoch, _ = res["epoch"].(string)
		} else if res["epoch"] != epoch {
			t.Fatalf("connection %d: epoch changed from %q to %v", connections, epoch, res["epoch"])
		}
		pubs, _ := res["publications"].([]any)
		for _, p := range pubs {
			accept(p.(map[string]any))
		}
		top := num(res["offset"])
		if last != top {
			t.Fatalf("connection %d: recovered up to offset %d, but the reply's position is %d", connections, last, top)
		}
		if bursts && top > from && top < end || !bursts && !stopped {
			raced++
		}
		for range min(end-last, uint64(rng.IntN(run.maxRead+1))) {
			accept(pubPush(t, c.next(), channel))
		}
		// Gone without a close frame, like a phone losing its network.
		c.conn.CloseNow()
		if !bursts {
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		}
	}
	if received != int(end) || end == 0 {
		t.Fatalf("received %d publications, want %d", received, end)
	}
	t.Logf("%d publications, %d connections, %d of them recovering amid publications", end, connections, raced)
}

// A history lost with its server (a memory broker restarting) has a new
// epoch: a client recovering from a position in the old one gets
// recovered false and no publications, even where its offset exists in
// the new history, and goes on live from the new position.
func TestRecoveryAfterEpochChange(t *testing.T) {
	const channel = "history:epoch"
	old := startQuiet(t, hub.Config{})
	c := dial(t, old, nil)
	c.connect()
	res := c.subscribeResult(`{"channel":"` + channel + `"}`)
	oldEpoch, _ := res["epoch"].(string)
	if oldEpoch == "" || res["recoverable"] != true {
		t.Fatalf("subscribe to a channel with history: %v", res)
	}
	var last uint64
	for i := 1; i <= 3; i++ {
		if _, err := old.hub.Publish(t.Context(), channel, []byte(strconv.Itoa(i)), hub.PublishRequest{Source: "api"}); err != nil {
			t.Fatal(err)
		}
		last = num(pubPush(t, c.next(), channel)["offset"])
	}

	old.stop(t)
	if d, _ := c.next()["disconnect"].(map[string]any); d == nil || d["reconnect"] != true {
		t.Fatalf("the old server's goodbye: %v", d)
	}
	c.closeStatus()

	fresh := startQuiet(t, hub.Config{})
	// Behind the new history: the offset is beyond its newest.
	early := dial(t, fresh, nil)
	early.connect()
	res = early.subscribeResult(recoverBody(channel, last, oldEpoch))
	newEpoch, _ := res["epoch"].(string)
	if _, has := res["recovered"]; has || res["publications"] != nil || newEpoch == "" || newEpoch == oldEpoch || num(res["offset"]) != 0 {
		t.Fatalf("recover from offset %d of the lost epoch %q into an empty history: %v", last, oldEpoch, res)
	}
	for i := 1; i <= 5; i++ {
		if _, err := fresh.hub.Publish(t.Context(), channel, []byte(strconv.Itoa(i)), hub.PublishRequest{Source: "api"}); err != nil {
			t.Fatal(err)
		}
		if p := pubPush(t, early.next(), channel); num(p["offset"]) != uint64(i) || p["epoch"] != newEpoch {
			t.Fatalf("live after the failed recovery: %v", p)
		}
	}
	// Ahead in the new history: only the epoch tells the offset is void.
	late := dial(t, fresh, nil)
	late.connect()
	res = late.subscribeResult(recoverBody(channel, last, oldEpoch))
	if _, has := res["recovered"]; has || res["publications"] != nil || res["epoch"] != newEpoch || num(res["offset"]) != 5 || res["recoverable"] != true {
		t.Fatalf("recover from offset %d of the lost epoch %q at offset 5 of %q: %v", last, oldEpoch, newEpoch, res)
	}
	if _, err := fresh.hub.Publish(t.Context(), channel, []byte("6"), hub.PublishRequest{Source: "api"}); err != nil {
		t.Fatal(err)
	}
	if p := pubPush(t, late.next(), channel); num(p["offset"]) != 6 || p["epoch"] != newEpoch {
		t.Fatalf("live after the failed recovery: %v", p)
	}
}

// Each way recovery can fall short gives recovered false with what the
// protocol promises, and a complete one gives recovered true.
func TestRecoveryLimits(t *testing.T) {
	ts := startQuiet(t, hub.Config{RecoveryMax: 4})
	epochs := map[string]string{}
	for channel, n := range map[string]int{"history:a": 6, "history:b": 3, "small:a": 10} {
		for i := 1; i <= n; i++ {
			pos, err := ts.hub.Publish(t.Context(), channel, []byte(strconv.Itoa(i)), hub.PublishRequest{Source: "api"})
			if err != nil {
				t.Fatal(err)
			}
			epochs[channel] = pos.Epoch
		}
	}
	const current = "current" // stands for the channel's epoch
	tests := []struct {
		name      string
		channel   string
		offset    uint64
		epoch     string
		recovered bool
		pubs      []uint64
		top       uint64
	}{
		{"nothing missed", "history:a", 6, current, true, nil, 6},
		{"recovery_max missed", "history:a", 2, current, true, span(3, 6), 6},
		{"more than recovery_max missed", "history:a", 1, current, false, nil, 6},
		{"offset beyond the newest", "history:a", 9, current, false, nil, 6},
		{"another epoch", "history:a", 3, "0badc0de", false, nil, 6},
		{"any epoch", "history:b", 1, "", true, span(2, 3), 3},
		{"from the start, nothing lost", "history:b", 0, "", true, span(1, 3), 3},
		{"trimmed: the kept ones", "small:a", 6, current, false, span(8, 10), 10},
		{"from the start, more missed than a replay carries", "small:a", 0, "", false, nil, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			epoch := tt.epoch
			if epoch == current {
				epoch = epochs[tt.channel]
			}
			c := dial(t, ts, nil)
			c.connect()
			res := c.subscribeResult(recoverBody(tt.channel, tt.offset, epoch))
			if tt.recovered && res["recovered"] != true {
				t.Fatalf("want recovered true: %v", res)
			}
			if _, has := res["recovered"]; !tt.recovered && has {
				t.Fatalf("want recovered left out (false): %v", res)
			}
			if got := offsets(res["publications"]); !slices.Equal(got, append([]uint64{}, tt.pubs...)) {
				t.Fatalf("publications at offsets %v, want %v: %v", got, tt.pubs, res)
			}
			pubs, _ := res["publications"].([]any)
			for _, p := range pubs {
				if p := p.(map[string]any); num(p["data"]) != num(p["offset"]) {
					t.Fatalf("publication %v", p)
				}
			}
			if num(res["offset"]) != tt.top || res["epoch"] != epochs[tt.channel] || res["recoverable"] != true {
				t.Fatalf("want position %d of %q, recoverable: %v", tt.top, epochs[tt.channel], res)
			}
		})
	}

	// A channel without history has nothing to recover from: an empty
	// reply, so the client knows to refetch.
	c := dial(t, ts, nil)
	c.connect()
	ts.publish(t, "plain", `1`)
	if res := c.subscribeResult(recoverBody("plain", 3, "0badc0de")); len(res) != 0 {
		t.Fatalf("recover in a channel without history: %v, want {}", res)
	}
}
