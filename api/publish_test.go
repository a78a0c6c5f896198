package api_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
)

type publishResult struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// TestPublishNoHistory: a channel without history gets offset 0 and no
// epoch, spelled out rather than omitted, and its subscribers get the data.
func TestPublishNoHistory(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	for _, channel := range []string{"lobby", "news:a"} {
		t.Run(channel, func(t *testing.T) {
			sub := e.subscribe(t, channel)
			r := e.post(t, "publish", fmt.Sprintf(`{"channel":%q,"data":{"text":"hi"}}`, channel))
			if r.status != 200 || string(r.body) != `{"offset":0,"epoch":""}`+"\n" {
				t.Fatalf("got %d %q, want 200 {\"offset\":0,\"epoch\":\"\"}", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			want := fmt.Sprintf(`{"channel":%q,"pub":{"data":{"text":"hi"}}}`, channel)
			if got := string(sub.next(t)); got != want {
				t.Errorf("push = %s, want %s", got, want)
			}
		})
	}
}

// TestPublishHistory: in a namespace that keeps history each publication
// gets the next offset, all in one epoch; another channel has its own.
func TestPublishHistory(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	sub := e.subscribe(t, "history:a")
	var epoch string
	for i := 1; i <= 3; i++ {
		var res publishResult
		decodeOK(t, e.post(t, "publish", fmt.Sprintf(`{"channel":"history:a","data":%d}`, i)), &res)
		if res.Offset != uint64(i) {
			t.Errorf("publication %d: offset %d", i, res.Offset)
		}
		if i == 1 {
			epoch = res.Epoch
			if epoch == "" {
				t.Fatal("empty epoch in a channel with history")
			}
		} else if res.Epoch != epoch {
			t.Errorf("publication %d: epoch %q, want %q", i, res.Epoch, epoch)
		}
		want := fmt.Sprintf(`{"channel":"history:a","pub":{"offset":%d,"epoch":%q,"data":%d}}`, i, epoch, i)
		if got := string(sub.next(t)); got != want {
			t.Errorf("push = %s, want %s", got, want)
		}
	}

	var other publishResult
	decodeOK(t, e.post(t, "publish", `{"channel":"history:b","data":1}`), &other)
	if other.Offset != 1 || other.Epoch == "" {
		t.Errorf("another channel: %+v, want offset 1 and an epoch", other)
	}
}

// TestPublishData: data is any JSON value; pretty-printed data is accepted
// and delivered compacted, since pushes are newline-delimited.
func TestPublishData(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"object", `{"text":"hi"}`, `{"text":"hi"}`},
		{"string", `"hello"`, `"hello"`},
		{"number", `-1.5e3`, `-1.5e3`},
		{"array", `[1,2,3]`, `[1,2,3]`},
		{"bool", `true`, `true`},
		{"pretty", "{\n  \"text\": \"hi there\",\n\t\"n\": [ 1, 2 ]\r\n}", `{"text":"hi there","n":[1,2]}`},
		{"spaces in strings kept", `{ "a b" : " c\nd " }`, `{"a b":" c\nd "}`},
		{"unicode", `"héllo ✓"`, `"héllo ✓"`},
	}
	e := newEnv(t, api.Options{Key: testKey})
	sub := e.subscribe(t, "lobby")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res publishResult
			decodeOK(t, e.post(t, "publish", `{"channel":"lobby","data":`+tt.data+`}`), &res)
			want := `{"channel":"lobby","pub":{"data":` + tt.want + `}}`
			if got := string(sub.next(t)); got != want {
				t.Errorf("push = %s, want %s", got, want)
			}
		})
	}
}

// TestPublishRefusedDeliversNothing: a refused publication reaches no one.
func TestPublishRefusedDeliversNothing(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	sub := e.subscribe(t, "lobby")
	wantError(t, e.post(t, "publish", `{"channel":"lobby"}`), 400, herald.ErrBadRequest)
	wantError(t, e.post(t, "publish", `{"channel":"lobby","data":1,"extra":2}`), 400, herald.ErrBadRequest)
	wantError(t, e.do(t, "POST", "/api/publish", "apikey wrong", `{"channel":"lobby","data":1}`), 401, herald.ErrUnauthorized)
	// A publication that goes through after them is the first to arrive.
	decodeOK(t, e.post(t, "publish", `{"channel":"lobby","data":"ok"}`), &publishResult{})
	if got, want := string(sub.next(t)), `{"channel":"lobby","pub":{"data":"ok"}}`; got != want {
		t.Errorf("push = %s, want %s", got, want)
	}
	sub.none(t)
}

type broadcastResult struct {
	Responses []struct {
		Channel string    `json:"channel"`
		Offset  uint64    `json:"offset"`
		Epoch   string    `json:"epoch"`
		Error   *apiError `json:"error"`
	} `json:"responses"`
}

// TestBroadcast: one response per channel in request order; a bad channel
// gets its own error while the others publish.
func TestBroadcast(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	lobby := e.subscribe(t, "lobby")
	hist := e.subscribe(t, "history:a", "news:b")

	var res broadcastResult
	decodeOK(t, e.post(t, "broadcast", `{"channels":["lobby","history:a","bad channel","nope:x","history:a","news:b"],"data":{
		"text": "hi"
	}}`), &res)

	want := []struct {
		channel string
		offset  uint64
		code    herald.ErrorCode // 0: published
	}{
		{"lobby", 0, 0},
		{"history:a", 1, 0},
		{"bad channel", 0, herald.ErrInvalidChannel},
		{"nope:x", 0, herald.ErrUnknownNamespace},
		{"history:a", 2, 0},
		{"news:b", 0, 0},
	}
	if len(res.Responses) != len(want) {
		t.Fatalf("%d responses, want %d: %+v", len(res.Responses), len(want), res.Responses)
	}
	var epoch string
	for i, w := range want {
		got := res.Responses[i]
		if got.Channel != w.channel || got.Offset != w.offset {
			t.Errorf("response %d: channel %q offset %d, want %q offset %d", i, got.Channel, got.Offset, w.channel, w.offset)
		}
		switch {
		case w.code != 0:
			if got.Error == nil || got.Error.Code != uint32(w.code) || got.Error.Message == "" {
				t.Errorf("response %d (%s): error %+v, want code %d and a message", i, w.channel, got.Error, w.code)
			}
		case got.Error != nil:
			t.Errorf("response %d (%s): unexpected error %+v", i, w.channel, got.Error)
		case w.offset > 0:
			if got.Epoch == "" || (epoch != "" && got.Epoch != epoch) {
				t.Errorf("response %d (%s): epoch %q, want one stable epoch", i, w.channel, got.Epoch)
			}
			epoch = got.Epoch
		case got.Epoch != "":
			t.Errorf("response %d (%s): epoch %q in a channel without history", i, w.channel, got.Epoch)
		}
	}

	if got, want := string(lobby.next(t)), `{"channel":"lobby","pub":{"data":{"text":"hi"}}}`; got != want {
		t.Errorf("lobby push = %s, want %s", got, want)
	}
	// In order within each channel; the two channels' fan-outs may
	// interleave either way.
	pushes := map[string][]string{}
	for range 3 {
		push := string(hist.next(t))
		ch := push[len(`{"channel":"`):strings.Index(push, `","pub"`)]
		pushes[ch] = append(pushes[ch], push)
	}
	wantPushes := map[string][]string{
		"history:a": {
			fmt.Sprintf(`{"channel":"history:a","pub":{"offset":1,"epoch":%q,"data":{"text":"hi"}}}`, epoch),
			fmt.Sprintf(`{"channel":"history:a","pub":{"offset":2,"epoch":%q,"data":{"text":"hi"}}}`, epoch),
		},
		"news:b": {`{"channel":"news:b","pub":{"data":{"text":"hi"}}}`},
	}
	if !reflect.DeepEqual(pushes, wantPushes) {
		t.Errorf("pushes by channel = %q, want %q", pushes, wantPushes)
	}
	lobby.none(t)
	hist.none(t)
}

// TestBroadcastLimit: exactly 10000 channels is allowed.
func TestBroadcastLimit(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey, MaxBodySize: 1 << 20})
	var res broadcastResult
	decodeOK(t, e.post(t, "broadcast", broadcastBody(10000)), &res)
	if len(res.Responses) != 10000 {
		t.Fatalf("%d responses, want 10000", len(res.Responses))
	}
	for i, r := range res.Responses {
		if r.Error != nil || r.Channel != fmt.Sprintf("news:%d", i) {
			t.Fatalf("response %d: %+v", i, r)
		}
	}
}

// TestPublishIdempotent: a retry with the same idempotency key answers the
// first result and delivers nothing more; another key publishes again.
func TestPublishIdempotent(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	sub := e.subscribe(t, "history:a")
	var first, retry, other publishResult
	decodeOK(t, e.post(t, "publish", `{"channel":"history:a","data":1,"idempotency_key":"order-42"}`), &first)
	decodeOK(t, e.post(t, "publish", `{"channel":"history:a","data":1,"idempotency_key":"order-42"}`), &retry)
	if first.Offset != 1 || retry != first {
		t.Errorf("first %+v, retry %+v: want offset 1 twice", first, retry)
	}
	decodeOK(t, e.post(t, "publish", `{"channel":"history:a","data":2,"idempotency_key":"order-43"}`), &other)
	if other.Offset != 2 {
		t.Errorf("another key: offset %d, want 2", other.Offset)
	}
	for _, want := range []string{
		fmt.Sprintf(`{"channel":"history:a","pub":{"offset":1,"epoch":%q,"data":1}}`, first.Epoch),
		fmt.Sprintf(`{"channel":"history:a","pub":{"offset":2,"epoch":%q,"data":2}}`, first.Epoch),
	} {
		if got := string(sub.next(t)); got != want {
			t.Errorf("push = %s, want %s", got, want)
		}
	}
	sub.none(t)
}

// TestBroadcastIdempotent: a retried broadcast publishes to no channel twice.
func TestBroadcastIdempotent(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	sub := e.subscribe(t, "history:a", "history:b")
	body := `{"channels":["history:a","history:b"],"data":1,"idempotency_key":"k"}`
	var first, retry broadcastResult
	decodeOK(t, e.post(t, "broadcast", body), &first)
	decodeOK(t, e.post(t, "broadcast", body), &retry)
	if len(first.Responses) != 2 || len(retry.Responses) != 2 {
		t.Fatalf("first %+v, retry %+v: want 2 responses each", first, retry)
	}
	for i := range 2 {
		f, r := first.Responses[i], retry.Responses[i]
		if f.Error != nil || f.Offset != 1 || r.Offset != f.Offset || r.Epoch != f.Epoch {
			t.Errorf("response %d: first %+v, retry %+v: want offset 1 twice", i, f, r)
		}
	}
	sub.next(t)
	sub.next(t)
	sub.none(t)
}

func TestPublishIdempotencyKeyRefused(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	sub := e.subscribe(t, "history:a")
	for name, key := range map[string]string{
		"empty":     `""`,
		"257 bytes": `"` + strings.Repeat("k", 257) + `"`,
		"number":    `42`,
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.post(t, "publish", `{"channel":"history:a","data":1,"idempotency_key":`+key+`}`), 400, herald.ErrBadRequest)
			wantError(t, e.post(t, "broadcast", `{"channels":["history:a"],"data":1,"idempotency_key":`+key+`}`), 400, herald.ErrBadRequest)
		})
	}
	var res publishResult
	decodeOK(t, e.post(t, "publish", `{"channel":"history:a","data":1,"idempotency_key":"`+strings.Repeat("k", 256)+`"}`), &res)
	if res.Offset != 1 {
		t.Errorf("256-byte key: offset %d, want 1: nothing refused was published", res.Offset)
	}
	sub.next(t)
	sub.none(t)
}
