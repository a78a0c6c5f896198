package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/api"
)

// TestBatchSequential: commands run in order, each with its own reply; a
// failing command does not stop the ones after it.
func TestBatchSequential(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	sub := e.subscribe(t, "history:a")
	r := e.post(t, "batch", `{"commands":[
		{"method":"publish","params":{"channel":"history:a","data":1}},
		{"method":"publish","params":{"channel":"history:a b","data":2}},
		{"method":"nope","params":{}},
		{"method":"batch","params":{"commands":[]}},
		{"method":"publish","params":{"channel":"history:a","data":3,"extra":true}},
		{"method":"publish","params":{"channel":"history:a","data":4}},
		{"method":"history","params":{"channel":"history:a","reverse":true,"limit":1}},
		{"method":"info"}
	]}`)
	var res struct {
		Replies []struct {
			Result map[string]any `json:"result"`
			Error  *apiError      `json:"error"`
		} `json:"replies"`
	}
	decodeOK(t, r, &res)
	if len(res.Replies) != 8 {
		t.Fatalf("%d replies, want 8: %s", len(res.Replies), r.body)
	}
	epoch, _ := res.Replies[0].Result["epoch"].(string)
	if epoch == "" {
		t.Fatalf("first reply %+v has no epoch", res.Replies[0])
	}
	body := string(r.body)
	for _, want := range []string{
		fmt.Sprintf(`{"replies":[{"result":{"offset":1,"epoch":%q}},{"error":{"code":109,`, epoch),
		`},{"error":{"code":104,"message":"unknown API method \"nope\": see docs/api.md"}},{"error":{"code":107,`,
		fmt.Sprintf(`},{"result":{"offset":2,"epoch":%q}},{"result":{"publications":[{"offset":2,"data":4}],"offset":2,"epoch":%q}},{"result":{"nodes":[{"id":`, epoch, epoch),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("replies %s\nlack %s", body, want)
		}
	}
	for i, code := range map[int]herald.ErrorCode{1: herald.ErrInvalidChannel, 2: herald.ErrUnknownCommand, 3: herald.ErrBadRequest, 4: herald.ErrBadRequest} {
		if e := res.Replies[i].Error; e == nil || e.Code != uint32(code) || res.Replies[i].Result != nil {
			t.Errorf("reply %d: %+v, want only error %d", i, res.Replies[i], code)
		}
	}
	sub.wantPush(t, fmt.Sprintf(`{"channel":"history:a","pub":{"offset":1,"epoch":%q,"data":1}}`, epoch))
	sub.wantPush(t, fmt.Sprintf(`{"channel":"history:a","pub":{"offset":2,"epoch":%q,"data":4}}`, epoch))
	sub.none(t)
}

// TestBatchParallel: commands run concurrently, yet reply i answers
// command i; a failing command in the middle fails alone.
func TestBatchParallel(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	const n = 50
	var b strings.Builder
	b.WriteString(`{"parallel":true,"commands":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		switch i {
		case n / 2:
			b.WriteString(`{"method":"publish","params":{"channel":"bad channel","data":1}}`)
		case n/2 + 1:
			b.WriteString(`{"method":"nope"}`)
		default:
			// Each reply names its channel, so a reply out of place shows.
			fmt.Fprintf(&b, `{"method":"broadcast","params":{"channels":["news:%d"],"data":%d}}`, i, i)
		}
	}
	b.WriteString(`]}`)

	var res struct {
		Replies []struct {
			Result *broadcastResult `json:"result"`
			Error  *apiError        `json:"error"`
		} `json:"replies"`
	}
	decodeOK(t, e.post(t, "batch", b.String()), &res)
	if len(res.Replies) != n {
		t.Fatalf("%d replies, want %d", len(res.Replies), n)
	}
	for i, r := range res.Replies {
		switch i {
		case n / 2:
			if r.Error == nil || r.Error.Code != uint32(herald.ErrInvalidChannel) || r.Result != nil {
				t.Errorf("reply %d: %+v, want error 109", i, r)
			}
		case n/2 + 1:
			if r.Error == nil || r.Error.Code != uint32(herald.ErrUnknownCommand) || r.Result != nil {
				t.Errorf("reply %d: %+v, want error 104", i, r)
			}
		default:
			if r.Error != nil || r.Result == nil || len(r.Result.Responses) != 1 || r.Result.Responses[0].Channel != fmt.Sprintf("news:%d", i) {
				t.Errorf("reply %d: %+v, want the broadcast to news:%d", i, r, i)
			}
		}
	}
}

// batchOf is a batch of n identical commands.
func batchOf(n int, command string) string {
	return `{"commands":[` + strings.TrimSuffix(strings.Repeat(command+",", n), ",") + `]}`
}

func TestBatchLimits(t *testing.T) {
	e := newEnv(t, api.Options{Key: testKey})
	var res struct {
		Replies []map[string]any `json:"replies"`
	}
	decodeOK(t, e.post(t, "batch", batchOf(1000, `{"method":"presence_stats","params":{"channel":"room:a"}}`)), &res)
	if len(res.Replies) != 1000 {
		t.Errorf("%d replies, want 1000", len(res.Replies))
	}
	wantBody(t, e.post(t, "batch", `{"commands":[]}`), `{"replies":[]}`)

	tests := []struct{ name, body, msg string }{
		{"too many commands", batchOf(1001, `{"method":"info"}`), "1000"},
		{"commands missing", `{}`, "commands"},
		{"commands null", `{"commands":null}`, "commands"},
		{"unknown field", `{"commands":[],"paralel":true}`, "paralel"},
		{"unknown command field", `{"commands":[{"method":"info","param":{}}]}`, "param"},
		{"params not JSON", `{"commands":[{"method":"info","params":{]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := wantError(t, e.post(t, "batch", tt.body), 400, herald.ErrBadRequest)
			if !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not mention %q", msg, tt.msg)
			}
		})
	}
}
