package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	client "github.com/heraldrt/herald/clients/go"
)

// chaosEvent is one thing a subscriber saw in a channel, in the order it
// saw them: a publication (seq is the publisher's number in its data) or
// a reported gap (recovered: false, with the position the resubscribe
// gave, or a GapError).
type chaosEvent struct {
	gap    bool
	seq    int
	epoch  string
	offset uint64
}

// chaosLedger records what each subscriber saw and what each publisher
// had acknowledged, and checks one against the other.
type chaosLedger struct {
	mu    sync.Mutex
	seen  map[string][]chaosEvent // subscriber/channel
	acked map[string][]int        // channel: acknowledged seqs, in order
	tried map[string]int          // channel: publishes attempted
	last  map[string]int          // subscriber/channel: last seq seen
}

func newChaosLedger() *chaosLedger {
	return &chaosLedger{seen: map[string][]chaosEvent{}, acked: map[string][]int{}, tried: map[string]int{}, last: map[string]int{}}
}

func (l *chaosLedger) record(sub, channel string, e chaosEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := sub + "/" + channel
	l.seen[k] = append(l.seen[k], e)
	if !e.gap {
		l.last[k] = max(l.last[k], e.seq)
	}
}

// gapRecorder is subscriber sub's OnError: it records GapErrors.
func (l *chaosLedger) gapRecorder(sub string) func(error) {
	return func(err error) {
		if g, ok := errors.AsType[*client.GapError](err); ok {
			l.record(sub, g.Channel, chaosEvent{gap: true})
		}
	}
}

func (l *chaosLedger) subscriptionOptions(sub, channel string) *client.SubscriptionOptions {
	return &client.SubscriptionOptions{
		OnSubscribed: func(e client.SubscribedEvent) {
			if e.WasRecovering && !e.Recovered {
				l.record(sub, channel, chaosEvent{gap: true, epoch: e.Epoch, offset: e.Offset})
			}
		},
		OnPublication: func(p client.Publication) {
			var d struct{ Seq int }
			_ = json.Unmarshal(p.Data, &d)
			l.record(sub, channel, chaosEvent{seq: d.Seq, epoch: p.Epoch, offset: p.Offset})
		},
	}
}

func (l *chaosLedger) published(channel string, seq int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tried[channel]++
	if ok {
		l.acked[channel] = append(l.acked[channel], seq)
	}
}

// tail describes the last events subscriber sub saw in channel.
func (l *chaosLedger) tail(sub, channel string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	events := l.seen[sub+"/"+channel]
	events = events[max(0, len(events)-5):]
	return fmt.Sprintf("%+v", events)
}

// gapPast says whether subscriber sub was told of a gap in channel by a
// resubscribe at or after p: p is then covered, delivered or not.
func (l *chaosLedger) gapPast(sub, channel string, p client.Position) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.seen[sub+"/"+channel] {
		if e.gap && e.epoch == p.Epoch && e.offset >= p.Offset {
			return true
		}
	}
	return false
}

// lastSeen is the highest seq subscriber sub saw in channel.
func (l *chaosLedger) lastSeen(sub, channel string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[sub+"/"+channel]
}

// chaosCounts is one run's outcome, summed over subscribers and channels.
type chaosCounts struct {
	published, acked         int // publishes attempted, acknowledged
	expected, delivered      int // acknowledged × subscribers; of those delivered once
	duplicates, outOfOrder   int
	gaps                     int // gap reports received
	coveredByGap, silentLoss int // acknowledged, not delivered: reported or not
	examples                 []string
}

func (c chaosCounts) String() string {
	return fmt.Sprintf("published %d, acked %d, expected deliveries %d, delivered %d, duplicates %d, out of order %d, gaps reported %d (covering %d), silent losses %d",
		c.published, c.acked, c.expected, c.delivered, c.duplicates, c.outOfOrder, c.gaps, c.coveredByGap, c.silentLoss)
}

// check compares what each of subs saw in each channel with what was
// acknowledged there. An acknowledged publication a subscriber did not get
// is covered when the subscriber reported a gap between the publication
// before it and the one after it that it did get; otherwise it is a
// silent loss. The publisher of a channel is sequential, so seq order is
// offset order.
func (l *chaosLedger) check(subs, channels []string) chaosCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c chaosCounts
	for _, ch := range channels {
		c.published += l.tried[ch]
		c.acked += len(l.acked[ch])
	}
	for _, sub := range subs {
		for _, ch := range channels {
			events := l.seen[sub+"/"+ch]
			// Offsets rise within an epoch. Seqs need not: a publish that
			// timed out here may still reach Redis after later ones, so
			// only acknowledged seqs are checked for order (below).
			at := map[int]int{} // seq: index of its event
			var epoch string
			var offset uint64
			for i, e := range events {
				if e.gap {
					c.gaps++
					continue
				}
				if _, dup := at[e.seq]; dup {
					c.duplicates++
					c.note("%s %s: seq %d delivered twice", sub, ch, e.seq)
					continue
				}
				if e.epoch == epoch && e.offset <= offset {
					c.outOfOrder++
					c.note("%s %s: offset %d after %d in epoch %s", sub, ch, e.offset, offset, epoch)
				}
				epoch, offset = e.epoch, e.offset
				at[e.seq] = i
			}
			acked := l.acked[ch]
			c.expected += len(acked)
			last := -1
			for j, seq := range acked {
				if i, ok := at[seq]; ok {
					c.delivered++
					if i < last {
						c.outOfOrder++
						c.note("%s %s: acknowledged seq %d delivered before an earlier acknowledged one", sub, ch, seq)
					}
					last = i
					continue
				}
				// The nearest acknowledged publications on either side
				// that this subscriber got.
				from, to := -1, len(events)
				for p := j - 1; p >= 0; p-- {
					if i, ok := at[acked[p]]; ok {
						from = i
						break
					}
				}
				for p := j + 1; p < len(acked); p++ {
					if i, ok := at[acked[p]]; ok {
						to = i
						break
					}
				}
				covered := false
				for i := from + 1; i < to && i < len(events); i++ {
					covered = covered || events[i].gap
				}
				if covered {
					c.coveredByGap++
				} else {
					c.silentLoss++
					c.note("%s %s: acknowledged seq %d never delivered, no gap reported", sub, ch, seq)
				}
			}
		}
	}
	return c
}

func (c *chaosCounts) note(format string, args ...any) {
	if len(c.examples) < 10 {
		c.examples = append(c.examples, fmt.Sprintf(format, args...))
	}
}
