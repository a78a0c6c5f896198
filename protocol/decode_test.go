package protocol_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldrt/herald/protocol"
)

func TestDecodeCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *protocol.Command // nil: the message must fail

		// For failures: the id the error reply echoes, whether the message
		// names no known command, and what the message must say (each
		// entry is a list of alternatives, one of which must appear).
		errID      uint32
		errUnknown bool
		errSays    [][]string
	}{
		// Every command kind.
		{
			name: "connect empty",
			in:   `{"id":1,"connect":{}}`,
			want: &protocol.Command{ID: 1, Connect: &protocol.ConnectRequest{}},
		},
		{
			name: "connect full",
			in:   `{"id":1,"connect":{"token":"eyJ.x.y","name":"herald-js","version":"1.2.3","data":{"lang":"en"}}}`,
			want: &protocol.Command{ID: 1, Connect: &protocol.ConnectRequest{
				Token: "eyJ.x.y", Name: "herald-js", Version: "1.2.3", Data: json.RawMessage(`{"lang":"en"}`),
			}},
		},
		{
			name: "subscribe",
			in:   `{"id":2,"subscribe":{"channel":"chat:lobby"}}`,
			want: &protocol.Command{ID: 2, Subscribe: &protocol.SubscribeRequest{Channel: "chat:lobby"}},
		},
		{
			name: "subscribe with reserved fields",
			in:   `{"id":2,"subscribe":{"channel":"news","token":"t","recover":true,"offset":18446744073709551615,"epoch":"ab"}}`,
			want: &protocol.Command{ID: 2, Subscribe: &protocol.SubscribeRequest{
				Channel: "news", Token: "t", Recover: true, Offset: 1<<64 - 1, Epoch: "ab",
			}},
		},
		{
			name: "unsubscribe",
			in:   `{"id":3,"unsubscribe":{"channel":"chat:lobby"}}`,
			want: &protocol.Command{ID: 3, Unsubscribe: &protocol.UnsubscribeRequest{Channel: "chat:lobby"}},
		},
		{
			name: "publish",
			in:   `{"id":4,"publish":{"channel":"chat:lobby","data":{"text":"hi"}}}`,
			want: &protocol.Command{ID: 4, Publish: &protocol.PublishRequest{Channel: "chat:lobby", Data: json.RawMessage(`{"text":"hi"}`)}},
		},
		{
			name: "publish keeps data verbatim",
			in:   `{"id":4,"publish":{"channel":"c","data": [1, 2.50, "<&>"] }}`,
			want: &protocol.Command{ID: 4, Publish: &protocol.PublishRequest{Channel: "c", Data: json.RawMessage(`[1, 2.50, "<&>"]`)}},
		},
		{
			name: "publish ephemeral without echo",
			in:   `{"id":4,"publish":{"channel":"c","data":1,"ephemeral":true,"echo":false}}`,
			want: &protocol.Command{ID: 4, Publish: &protocol.PublishRequest{Channel: "c", Data: json.RawMessage(`1`), Ephemeral: true, Echo: ptr(false)}},
		},
		{
			// Absent echo means true; an explicit true is kept apart from
			// absent so that it survives a round trip.
			name: "publish with echo true",
			in:   `{"id":4,"publish":{"channel":"c","data":1,"echo":true}}`,
			want: &protocol.Command{ID: 4, Publish: &protocol.PublishRequest{Channel: "c", Data: json.RawMessage(`1`), Echo: ptr(true)}},
		},
		{
			name: "history",
			in:   `{"id":6,"history":{"channel":"news"}}`,
			want: &protocol.Command{ID: 6, History: &protocol.HistoryRequest{Channel: "news"}},
		},
		{
			name: "history with every field",
			in:   `{"id":6,"history":{"channel":"news","since":{"offset":18446744073709551615,"epoch":"xyz"},"limit":10,"reverse":true}}`,
			want: &protocol.Command{ID: 6, History: &protocol.HistoryRequest{
				Channel: "news", Since: &protocol.Position{Offset: 1<<64 - 1, Epoch: "xyz"}, Limit: 10, Reverse: true,
			}},
		},
		{
			name: "history since the start of any epoch",
			in:   `{"id":6,"history":{"channel":"news","since":{},"limit":1}}`,
			want: &protocol.Command{ID: 6, History: &protocol.HistoryRequest{Channel: "news", Since: &protocol.Position{}, Limit: 1}},
		},
		{
			// The decoder takes any integer; the hub answers a negative
			// limit with bad_request, where it can say which command.
			name: "history with a negative limit decodes",
			in:   `{"id":6,"history":{"channel":"news","limit":-1}}`,
			want: &protocol.Command{ID: 6, History: &protocol.HistoryRequest{Channel: "news", Limit: -1}},
		},
		{
			name: "presence",
			in:   `{"id":7,"presence":{"channel":"chat:lobby"}}`,
			want: &protocol.Command{ID: 7, Presence: &protocol.PresenceRequest{Channel: "chat:lobby"}},
		},
		{
			name: "presence_stats",
			in:   `{"id":8,"presence_stats":{"channel":"chat:lobby"}}`,
			want: &protocol.Command{ID: 8, PresenceStats: &protocol.PresenceStatsRequest{Channel: "chat:lobby"}},
		},
		{
			name: "rpc",
			in:   `{"id":9,"rpc":{"method":"echo","data":{"x": 1}}}`,
			want: &protocol.Command{ID: 9, RPC: &protocol.RPCRequest{Method: "echo", Data: json.RawMessage(`{"x": 1}`)}},
		},
		{
			name: "rpc without data",
			in:   `{"id":9,"rpc":{"method":"now"}}`,
			want: &protocol.Command{ID: 9, RPC: &protocol.RPCRequest{Method: "now"}},
		},
		{
			name: "ping",
			in:   `{"id":5,"ping":{}}`,
			want: &protocol.Command{ID: 5, Ping: &protocol.PingRequest{}},
		},
		{
			name: "pong without id",
			in:   `{"pong":{}}`,
			want: &protocol.Command{Pong: &protocol.PongRequest{}},
		},
		{
			name: "whitespace and key order do not matter",
			in:   " { \"subscribe\" : { \"channel\" : \"a\" } , \"id\" : 9 } ",
			want: &protocol.Command{ID: 9, Subscribe: &protocol.SubscribeRequest{Channel: "a"}},
		},
		{
			name: "largest id",
			in:   `{"id":4294967295,"ping":{}}`,
			want: &protocol.Command{ID: 1<<32 - 1, Ping: &protocol.PingRequest{}},
		},

		// Wrong types: the id is recovered, the message names the field.
		{
			name:    "channel is a number",
			in:      `{"id":7,"subscribe":{"channel":5}}`,
			errID:   7,
			errSays: [][]string{{"subscribe.channel", "channel"}, {"a string"}},
		},
		{
			name:    "command is an array",
			in:      `{"id":8,"ping":[]}`,
			errID:   8,
			errSays: [][]string{{"ping"}, {"an object"}},
		},
		{
			name:    "offset is negative",
			in:      `{"id":8,"subscribe":{"channel":"a","offset":-1}}`,
			errID:   8,
			errSays: [][]string{{"offset"}, {"non-negative integer"}},
		},
		{
			name:    "recover is a string",
			in:      `{"id":8,"subscribe":{"channel":"a","recover":"yes"}}`,
			errID:   8,
			errSays: [][]string{{"recover"}, {"a boolean"}},
		},
		{
			name:    "echo is a string",
			in:      `{"id":8,"publish":{"channel":"a","data":1,"echo":"no"}}`,
			errID:   8,
			errSays: [][]string{{"echo"}, {"a boolean"}},
		},
		{
			name:    "limit is a string",
			in:      `{"id":8,"history":{"channel":"a","limit":"10"}}`,
			errID:   8,
			errSays: [][]string{{"limit"}, {"integer"}},
		},
		{
			name:    "since is a number",
			in:      `{"id":8,"history":{"channel":"a","since":5}}`,
			errID:   8,
			errSays: [][]string{{"since"}, {"an object"}},
		},
		{
			name:    "since offset is negative",
			in:      `{"id":8,"history":{"channel":"a","since":{"offset":-1,"epoch":""}}}`,
			errID:   8,
			errSays: [][]string{{"offset"}, {"non-negative integer"}},
		},
		{
			name:    "rpc method is a number",
			in:      `{"id":8,"rpc":{"method":1}}`,
			errID:   8,
			errSays: [][]string{{"method"}, {"a string"}},
		},
		{
			name:    "id above uint32",
			in:      `{"id":4294967296,"ping":{}}`,
			errSays: [][]string{{`"id"`}, {"non-negative integer"}},
		},
		{
			name:    "huge id",
			in:      `{"id":123456789012345678901234567890,"ping":{}}`,
			errSays: [][]string{{`"id"`}},
		},
		{
			name:    "negative id",
			in:      `{"id":-1,"ping":{}}`,
			errSays: [][]string{{`"id"`}},
		},
		{
			name:    "fractional id",
			in:      `{"id":1.5,"ping":{}}`,
			errSays: [][]string{{`"id"`}},
		},
		{
			name:    "string id",
			in:      `{"id":"1","ping":{}}`,
			errSays: [][]string{{`"id"`}, {"got a JSON string"}},
		},

		// Not an object.
		{name: "array", in: `[{"id":1,"ping":{}}]`, errSays: [][]string{{"JSON object"}, {"array"}}},
		{name: "string", in: `"ping"`, errSays: [][]string{{"JSON object"}, {"string"}}},
		{name: "number", in: `42`, errSays: [][]string{{"JSON object"}, {"number"}}},
		{name: "boolean", in: `true`, errSays: [][]string{{"JSON object"}, {"bool"}}},

		// Malformed JSON: the message carries the byte offset.
		{
			name:    "null command is not unknown",
			in:      `{"id":5,"ping":null}`,
			errID:   5,
			errSays: [][]string{{"\"ping\" must be an object"}},
		},
		{
			name:    "null message",
			in:      `null`,
			errSays: [][]string{{"must be a JSON object"}},
		},
		{
			name:    "truncated",
			in:      `{"id":7,"subscribe":{"channel":"x"}`,
			errID:   7,
			errSays: [][]string{{"malformed JSON at byte 35"}},
		},
		{
			name:    "garbage",
			in:      `{"id":1,"ping":{}}}`,
			errID:   1,
			errSays: [][]string{{"malformed JSON at byte 19"}},
		},
		{
			name:    "single quotes",
			in:      `{'id':1}`,
			errSays: [][]string{{"malformed JSON at byte 2"}},
		},
		{
			name:    "trailing comma",
			in:      `{"id":1,"ping":{},}`,
			errID:   1,
			errSays: [][]string{{"malformed JSON at byte"}},
		},

		// Unknown, missing and extra commands.
		{
			name:       "unknown command",
			in:         `{"id":3,"histroy":{}}`,
			errID:      3,
			errUnknown: true,
			errSays:    [][]string{{`"histroy"`}},
		},
		{
			name:       "two unknown commands are both named",
			in:         `{"id":3,"subscrib":{},"histry":{}}`,
			errID:      3,
			errUnknown: true,
			errSays:    [][]string{{`"subscrib"`}, {`"histry"`}},
		},
		{
			name:       "unknown command names every known one",
			in:         `{"id":3,"message":{}}`,
			errID:      3,
			errUnknown: true,
			errSays:    [][]string{{"connect, subscribe, unsubscribe, publish, ping, pong, history, presence, presence_stats, rpc"}},
		},
		{
			name:    "null history is not unknown",
			in:      `{"id":5,"history":null}`,
			errID:   5,
			errSays: [][]string{{"\"history\" must be an object"}},
		},
		{
			name:       "long unknown name is truncated",
			in:         `{"id":3,"` + strings.Repeat("x", 1000) + `":{}}`,
			errID:      3,
			errUnknown: true,
			errSays:    [][]string{{strings.Repeat("x", 32) + "..."}},
		},
		{
			name:       "empty object",
			in:         `{}`,
			errUnknown: true,
			errSays:    [][]string{{"names no command"}},
		},
		{
			name:       "id only",
			in:         `{"id":6}`,
			errID:      6,
			errUnknown: true,
			errSays:    [][]string{{"names no command"}},
		},
		{
			name:    "two commands in one message",
			in:      `{"id":4,"subscribe":{"channel":"a"},"unsubscribe":{"channel":"a"}}`,
			errID:   4,
			errSays: [][]string{{"exactly one"}},
		},
		{
			name:    "history and rpc",
			in:      `{"id":4,"history":{"channel":"a"},"rpc":{"method":"echo"}}`,
			errID:   4,
			errSays: [][]string{{"exactly one"}},
		},
		{
			name:    "ping and pong",
			in:      `{"id":4,"ping":{},"pong":{}}`,
			errID:   4,
			errSays: [][]string{{"exactly one"}},
		},

		// Invalid UTF-8. The WebSocket transport closes with 1007 before a
		// frame reaches the decoder; on its own the decoder rejects stray
		// bytes and, like encoding/json, turns bad bytes inside a string
		// into U+FFFD (which channel validation then refuses).
		{
			name:    "non-UTF-8 outside a string",
			in:      "{\"id\":1,\"ping\":{}}\xff",
			errID:   1,
			errSays: [][]string{{"malformed JSON at byte 19"}},
		},
		{
			name:    "non-UTF-8 instead of a key",
			in:      "{\"id\":1,\xfe\xff:{}}",
			errID:   1,
			errSays: [][]string{{"malformed JSON at byte 9"}},
		},
		{
			name: "non-UTF-8 inside a string",
			in:   "{\"id\":1,\"subscribe\":{\"channel\":\"a\xffb\"}}",
			want: &protocol.Command{ID: 1, Subscribe: &protocol.SubscribeRequest{Channel: "a\uFFFDb"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := protocol.DecodeCommand([]byte(tt.in))
			if tt.want != nil {
				if err != nil {
					t.Fatalf("DecodeCommand(%s): unexpected error %q", tt.in, err.Message)
				}
				if !reflect.DeepEqual(cmd, tt.want) {
					t.Fatalf("DecodeCommand(%s)\n got %s\nwant %s", tt.in, dump(cmd), dump(tt.want))
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeCommand(%s) = %s, want an error", tt.in, dump(cmd))
			}
			if cmd != nil {
				t.Errorf("DecodeCommand(%s) returned a command with its error: %s", tt.in, dump(cmd))
			}
			if err.ID != tt.errID {
				t.Errorf("error ID = %d, want %d", err.ID, tt.errID)
			}
			if err.Unknown != tt.errUnknown {
				t.Errorf("error Unknown = %v, want %v", err.Unknown, tt.errUnknown)
			}
			if err.Error() != err.Message {
				t.Errorf("Error() = %q, Message = %q", err.Error(), err.Message)
			}
			for _, alts := range tt.errSays {
				if !containsAny(err.Message, alts) {
					t.Errorf("error message %q says none of %q", err.Message, alts)
				}
			}
		})
	}
}

func TestDecodeCommands(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		want  []string // summaries, in frame order
	}{
		{name: "empty frame", frame: "", want: nil},
		{name: "only blank lines", frame: "\n\r\n  \n\t\n", want: nil},
		{name: "one message", frame: `{"id":1,"connect":{}}`, want: []string{"connect#1"}},
		{
			name:  "newline separated",
			frame: "{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{\"id\":3,\"ping\":{}}",
			want:  []string{"connect#1", "subscribe#2 a", "ping#3"},
		},
		{
			name:  "trailing newline",
			frame: "{\"pong\":{}}\n",
			want:  []string{"pong#0"},
		},
		{
			name:  "CRLF and blank lines",
			frame: "\r\n{\"id\":1,\"ping\":{}}\r\n\r\n\n  {\"id\":2,\"ping\":{}}  \r\n",
			want:  []string{"ping#1", "ping#2"},
		},
		{
			name:  "bad message between good ones",
			frame: "{\"id\":1,\"subscribe\":{\"channel\":\"a\"}}\n{\"id\":2,\"subscribe\":\n{\"id\":3,\"subscribe\":{\"channel\":\"b\"}}",
			want:  []string{"subscribe#1 a", "error#2", "subscribe#3 b"},
		},
		{
			name:  "every kind of bad message keeps order",
			frame: "{\"id\":1,\"ping\":{}}\n[]\n{\"id\":3,\"histroy\":{}}\n{\"id\":4,\"subscribe\":{\"channel\":4}}\n{}\n{\"id\":6,\"ping\":{}}",
			want:  []string{"ping#1", "error#0", "unknown#3", "error#4", "unknown#0", "ping#6"},
		},
		{
			name:  "new commands",
			frame: "{\"id\":1,\"history\":{\"channel\":\"a\",\"limit\":-1}}\n{\"id\":2,\"presence\":{\"channel\":\"b\"}}\n{\"id\":3,\"presence_stats\":{\"channel\":\"c\"}}\n{\"id\":4,\"rpc\":{\"method\":\"echo\"}}",
			want:  []string{"history#1 a", "presence#2 b", "presence_stats#3 c", "rpc#4 echo"},
		},
		{
			// A JSON string may not hold a raw newline, so splitting on
			// newlines never cuts a well-formed message.
			name:  "newline inside a message splits it",
			frame: "{\"id\":1,\n\"ping\":{}}",
			want:  []string{"error#1", "error#0"},
		},
		{
			name:  "two objects on one line are one bad message",
			frame: `{"id":1,"ping":{}}{"id":2,"ping":{}}`,
			want:  []string{"error#1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			protocol.DecodeCommands([]byte(tt.frame), func(cmd *protocol.Command, err *protocol.DecodeError) {
				if (cmd == nil) == (err == nil) {
					t.Fatalf("callback got cmd=%v err=%v: want exactly one", cmd, err)
				}
				got = append(got, summarize(cmd, err))
			})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeCommands(%q)\n got %q\nwant %q", tt.frame, got, tt.want)
			}
		})
	}
}

// TestDecodeCommandsDoesNotRetain checks that decoded commands do not alias
// the frame: the transport reuses its read buffer for the next frame.
func TestDecodeCommandsDoesNotRetain(t *testing.T) {
	frame := []byte(`{"id":1,"publish":{"channel":"c","data":{"a":"b"}}}` + "\n" + `{"id":2,"connect":{"data":[1]}}` + "\n" + `{"id":3,"rpc":{"method":"m","data":"d"}}`)
	var cmds []*protocol.Command
	protocol.DecodeCommands(frame, func(cmd *protocol.Command, err *protocol.DecodeError) {
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	})
	for i := range frame {
		frame[i] = 'X'
	}
	if got := string(cmds[0].Publish.Data); got != `{"a":"b"}` {
		t.Errorf("publish data = %s after the frame was overwritten", got)
	}
	if got := string(cmds[1].Connect.Data); got != `[1]` {
		t.Errorf("connect data = %s after the frame was overwritten", got)
	}
	if got := string(cmds[2].RPC.Data); got != `"d"` {
		t.Errorf("rpc data = %s after the frame was overwritten", got)
	}
}

func summarize(cmd *protocol.Command, err *protocol.DecodeError) string {
	switch {
	case err != nil && err.Unknown:
		return fmt.Sprintf("unknown#%d", err.ID)
	case err != nil:
		return fmt.Sprintf("error#%d", err.ID)
	}
	s := fmt.Sprintf("%s#%d", cmd.Name(), cmd.ID)
	switch {
	case cmd.Subscribe != nil:
		s += " " + cmd.Subscribe.Channel
	case cmd.Unsubscribe != nil:
		s += " " + cmd.Unsubscribe.Channel
	case cmd.Publish != nil:
		s += " " + cmd.Publish.Channel
	case cmd.History != nil:
		s += " " + cmd.History.Channel
	case cmd.Presence != nil:
		s += " " + cmd.Presence.Channel
	case cmd.PresenceStats != nil:
		s += " " + cmd.PresenceStats.Channel
	case cmd.RPC != nil:
		s += " " + cmd.RPC.Method
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func BenchmarkDecodeCommand(b *testing.B) {
	msg := []byte(`{"id":12345,"subscribe":{"channel":"chat:room-42"}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := protocol.DecodeCommand(msg); err != nil {
			b.Fatal(err)
		}
	}
}
