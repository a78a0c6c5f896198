package hub

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/heraldrt/herald"
)

// DisconnectMinutes is how many minutes of disconnect counts a node
// keeps for the admin API's chart: one slot per minute in a ring, each
// with at most disconnectCodes codes, so a node's series never passes a
// few kilobytes whatever the load.
const DisconnectMinutes = 60

// disconnectCodes is the most distinct codes one minute counts; the
// catalog has fewer, so only codes from elsewhere (a hook's) can pass it,
// and those beyond are counted under OtherDisconnects.
const disconnectCodes = 24

// OtherDisconnects is the code under which a minute counts disconnects
// whose codes did not fit in its slot.
const OtherDisconnects = 65535

// DisconnectMinute is the disconnects of one minute by code: "0" is a
// connection that ended without a close frame (the client sees 1006).
type DisconnectMinute struct {
	Time  time.Time      `json:"time"`
	Codes map[string]int `json:"codes"`
}

// DisconnectsResult is the per-minute disconnects of every node that
// answered, summed, oldest minute first and every minute present; Names
// names each code that appears.
type DisconnectsResult struct {
	Minutes []DisconnectMinute `json:"minutes"`
	Names   map[string]string  `json:"names"`
	Missing []string           `json:"missing,omitempty"`
}

type minuteSlot struct {
	minute int64 // Unix minute the slot counts; 0: never used
	codes  map[uint16]int
}

// disconnectSeries counts this node's disconnects by minute and code.
type disconnectSeries struct {
	mu    sync.Mutex
	slots [DisconnectMinutes]minuteSlot
	names map[uint16]string // bounded as the codes are: see add
}

// add counts one disconnect at now: one lock, one map increment.
func (d *disconnectSeries) add(now time.Time, code uint16, name string) {
	m := now.Unix() / 60
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &d.slots[m%DisconnectMinutes]
	if s.minute != m {
		s.minute = m
		clear(s.codes)
	}
	if s.codes == nil {
		s.codes = make(map[uint16]int, 4)
	}
	if _, ok := s.codes[code]; !ok && len(s.codes) >= disconnectCodes-1 {
		code, name = OtherDisconnects, "other"
	}
	s.codes[code]++
	if d.names == nil {
		d.names = map[uint16]string{}
	}
	if _, ok := d.names[code]; !ok && len(d.names) < 4*disconnectCodes {
		d.names[code] = name
	}
}

// last returns the counts of the last n minutes up to now, oldest first,
// leaving out the empty ones.
func (d *disconnectSeries) last(now time.Time, n int) ([]DisconnectMinute, map[string]string) {
	n = min(max(n, 1), DisconnectMinutes)
	end := now.Unix() / 60
	var out []DisconnectMinute
	names := map[string]string{}
	d.mu.Lock()
	defer d.mu.Unlock()
	for m := end - int64(n) + 1; m <= end; m++ {
		s := &d.slots[m%DisconnectMinutes]
		if s.minute != m || len(s.codes) == 0 {
			continue
		}
		dm := DisconnectMinute{Time: time.Unix(m*60, 0).UTC(), Codes: make(map[string]int, len(s.codes))}
		for c, k := range s.codes {
			key := strconv.Itoa(int(c))
			dm.Codes[key] = k
			names[key] = d.names[c]
		}
		out = append(out, dm)
	}
	return out, names
}

// countDisconnect files a session's end in the series; d is nil when the
// peer went away without a close frame.
func (h *Hub) countDisconnect(d *herald.Disconnect) {
	if d == nil {
		h.disconnects.add(time.Now(), 0, "connection_lost")
		return
	}
	h.disconnects.add(time.Now(), d.Code, d.Name)
}

// SurveyDisconnects sums every node's disconnects by code over the last
// minutes (1 to DisconnectMinutes), one entry per minute, zeros included.
func (h *Hub) SurveyDisconnects(ctx context.Context, minutes int) (DisconnectsResult, error) {
	if minutes < 1 || minutes > DisconnectMinutes {
		return DisconnectsResult{}, herald.Errorf(herald.ErrBadRequest, "minutes must be 1 to %d, got %d", DisconnectMinutes, minutes)
	}
	replies, missing, err := h.survey(ctx, surveyRequest{Kind: "disconnects", Minutes: minutes})
	if err != nil {
		return DisconnectsResult{}, err
	}
	end := time.Now().Unix() / 60
	res := DisconnectsResult{Minutes: make([]DisconnectMinute, minutes), Names: map[string]string{}, Missing: missing}
	for i := range res.Minutes {
		res.Minutes[i] = DisconnectMinute{Time: time.Unix((end-int64(minutes)+1+int64(i))*60, 0).UTC(), Codes: map[string]int{}}
	}
	for _, r := range replies {
		for code, name := range r.Names {
			if len(res.Names) < 4*disconnectCodes {
				res.Names[code] = name
			}
		}
		for _, dm := range r.Disconnects {
			// A node's clock may be a minute off: its minutes land where
			// they fall, and outside the range are dropped.
			i := int(dm.Time.Unix()/60 - (end - int64(minutes) + 1))
			if i < 0 || i >= minutes {
				continue
			}
			for code, n := range dm.Codes {
				if _, ok := res.Minutes[i].Codes[code]; ok || len(res.Minutes[i].Codes) < 4*disconnectCodes {
					res.Minutes[i].Codes[code] += n
				}
			}
		}
	}
	sort.Strings(res.Missing)
	return res, nil
}
