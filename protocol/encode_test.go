package protocol_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/heraldrt/herald/protocol"
)

// The wanted bytes below are the wire format: docs/protocol.md shows the
// same messages, and TestSpecExamples keeps the two in step.

func TestEncodeReply(t *testing.T) {
	tests := []struct {
		name  string
		reply protocol.Reply
		want  string
		// back is what decoding want gives, when not reply itself.
		back *protocol.Reply
	}{
		{
			name:  "connect",
			reply: protocol.Reply{ID: 1, Connect: &protocol.ConnectResult{Client: "c1", Version: "1.0.0", Ping: 25, Pong: true}},
			want:  `{"id":1,"connect":{"client":"c1","version":"1.0.0","ping":25,"pong":true}}`,
		},
		{
			name:  "connect keeps zero fields",
			reply: protocol.Reply{ID: 1, Connect: &protocol.ConnectResult{}},
			want:  `{"id":1,"connect":{"client":"","version":"","ping":0,"pong":false}}`,
		},
		{
			name:  "subscribe without history",
			reply: protocol.Reply{ID: 2, Subscribe: &protocol.SubscribeResult{}},
			want:  `{"id":2,"subscribe":{}}`,
		},
		{
			name:  "subscribe with history",
			reply: protocol.Reply{ID: 2, Subscribe: &protocol.SubscribeResult{Offset: 5, Epoch: "xyz"}},
			want:  `{"id":2,"subscribe":{"offset":5,"epoch":"xyz"}}`,
		},
		{
			name:  "subscribe recoverable",
			reply: protocol.Reply{ID: 2, Subscribe: &protocol.SubscribeResult{Offset: 5, Epoch: "xyz", Recoverable: true}},
			want:  `{"id":2,"subscribe":{"offset":5,"epoch":"xyz","recoverable":true}}`,
		},
		{
			name: "subscribe recovered",
			reply: protocol.Reply{ID: 3, Subscribe: &protocol.SubscribeResult{Offset: 7, Epoch: "xyz", Recoverable: true, Recovered: true,
				Publications: []protocol.PubPush{{Offset: 6, Data: json.RawMessage(`{"title":"a"}`)}, {Offset: 7, Data: json.RawMessage(`"b"`)}}}},
			want: `{"id":3,"subscribe":{"offset":7,"epoch":"xyz","recoverable":true,"recovered":true,"publications":[{"offset":6,"data":{"title":"a"}},{"offset":7,"data":"b"}]}}`,
		},
		{
			// recovered false is left out, like every false optional field.
			name:  "subscribe not recovered",
			reply: protocol.Reply{ID: 3, Subscribe: &protocol.SubscribeResult{Offset: 2, Epoch: "k7Qm", Recoverable: true}},
			want:  `{"id":3,"subscribe":{"offset":2,"epoch":"k7Qm","recoverable":true}}`,
		},
		{
			name:  "unsubscribe",
			reply: protocol.Reply{ID: 3, Unsubscribe: &protocol.UnsubscribeResult{}},
			want:  `{"id":3,"unsubscribe":{}}`,
		},
		{
			name:  "publish without history",
			reply: protocol.Reply{ID: 4, Publish: &protocol.PublishResult{}},
			want:  `{"id":4,"publish":{}}`,
		},
		{
			name:  "publish with history",
			reply: protocol.Reply{ID: 4, Publish: &protocol.PublishResult{Offset: 6, Epoch: "xyz"}},
			want:  `{"id":4,"publish":{"offset":6,"epoch":"xyz"}}`,
		},
		{
			name: "history",
			reply: protocol.Reply{ID: 8, History: &protocol.HistoryResult{
				Publications: []protocol.PubPush{{Offset: 7, Data: json.RawMessage(`{"title":"b"}`)}, {Offset: 6, Data: json.RawMessage(`null`)}},
				Offset:       7, Epoch: "xyz",
			}},
			want: `{"id":8,"history":{"publications":[{"offset":7,"data":{"title":"b"}},{"offset":6,"data":null}],"offset":7,"epoch":"xyz"}}`,
		},
		{
			// Every field is always present, an empty page included.
			name:  "history position only",
			reply: protocol.Reply{ID: 8, History: &protocol.HistoryResult{Publications: []protocol.PubPush{}}},
			want:  `{"id":8,"history":{"publications":[],"offset":0,"epoch":""}}`,
		},
		{
			name: "presence",
			reply: protocol.Reply{ID: 9, Presence: &protocol.PresenceResult{Presence: map[string]protocol.ClientInfo{
				"c2": {Client: "c2", User: ""},
				"c1": {Client: "c1", User: "42", Info: json.RawMessage(`{"name":"Ann"}`)},
			}}},
			want: `{"id":9,"presence":{"presence":{"c1":{"client":"c1","user":"42","info":{"name":"Ann"}},"c2":{"client":"c2","user":""}}}}`,
		},
		{
			name:  "presence of an empty channel",
			reply: protocol.Reply{ID: 9, Presence: &protocol.PresenceResult{Presence: map[string]protocol.ClientInfo{}}},
			want:  `{"id":9,"presence":{"presence":{}}}`,
		},
		{
			name:  "presence_stats keeps zeros",
			reply: protocol.Reply{ID: 10, PresenceStats: &protocol.PresenceStatsResult{}},
			want:  `{"id":10,"presence_stats":{"num_clients":0,"num_users":0}}`,
		},
		{
			name:  "presence_stats",
			reply: protocol.Reply{ID: 10, PresenceStats: &protocol.PresenceStatsResult{NumClients: 3, NumUsers: 1}},
			want:  `{"id":10,"presence_stats":{"num_clients":3,"num_users":1}}`,
		},
		{
			name:  "rpc",
			reply: protocol.Reply{ID: 11, RPC: &protocol.RPCResult{Data: json.RawMessage(`{"x":1}`)}},
			want:  `{"id":11,"rpc":{"data":{"x":1}}}`,
		},
		{
			name:  "rpc without data",
			reply: protocol.Reply{ID: 11, RPC: &protocol.RPCResult{}},
			want:  `{"id":11,"rpc":{}}`,
		},
		{
			name:  "pong",
			reply: protocol.Reply{ID: 5, Pong: &protocol.PongResult{}},
			want:  `{"id":5,"pong":{}}`,
		},
		{
			name:  "error",
			reply: protocol.Reply{ID: 6, Error: &protocol.Error{Code: 103, Message: "permission denied"}},
			want:  `{"id":6,"error":{"code":103,"message":"permission denied"}}`,
		},
		{
			name:  "temporary error",
			reply: protocol.Reply{ID: 6, Error: &protocol.Error{Code: 114, Message: "server is draining", Temporary: true}},
			want:  `{"id":6,"error":{"code":114,"message":"server is draining","temporary":true}}`,
		},
		{
			name:  "error without id",
			reply: protocol.Reply{Error: &protocol.Error{Code: 107, Message: "malformed JSON"}},
			want:  `{"error":{"code":107,"message":"malformed JSON"}}`,
		},
		{
			name:  "error message is escaped",
			reply: protocol.Reply{ID: 7, Error: &protocol.Error{Code: 104, Message: "unknown command \"<x>\"\n\xff"}},
			want:  `{"id":7,"error":{"code":104,"message":"unknown command \"\u003cx\u003e\"\n\ufffd"}}`,
			back:  &protocol.Reply{ID: 7, Error: &protocol.Error{Code: 104, Message: "unknown command \"<x>\"\n\uFFFD"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := protocol.EncodeReply(&tt.reply)
			if string(got) != tt.want {
				t.Fatalf("EncodeReply\n got %s\nwant %s", got, tt.want)
			}
			if bytes.IndexByte(got, '\n') >= 0 {
				t.Fatalf("EncodeReply output has a raw newline, which would split the frame: %q", got)
			}
			var back protocol.Reply
			if err := strictUnmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			want := &tt.reply
			if tt.back != nil {
				want = tt.back
			}
			if !reflect.DeepEqual(&back, want) {
				t.Errorf("round trip\n got %s\nwant %s", dump(back), dump(want))
			}
		})
	}
}

func TestEncodePush(t *testing.T) {
	tests := []struct {
		name string
		push protocol.Push
		want string
	}{
		{
			name: "pub",
			push: protocol.Push{Channel: "news", Pub: &protocol.PubPush{Data: json.RawMessage(`{"title":"hi"}`)}},
			want: `{"channel":"news","pub":{"data":{"title":"hi"}}}`,
		},
		{
			name: "pub with history",
			push: protocol.Push{Channel: "news", Pub: &protocol.PubPush{Offset: 6, Epoch: "xyz", Data: json.RawMessage(`{"title":"hi"}`)}},
			want: `{"channel":"news","pub":{"offset":6,"epoch":"xyz","data":{"title":"hi"}}}`,
		},
		{
			name: "join",
			push: protocol.Push{Channel: "chat:lobby", Join: &protocol.ClientInfo{Client: "c1", User: "42", Info: json.RawMessage(`{"name":"Ann"}`)}},
			want: `{"channel":"chat:lobby","join":{"client":"c1","user":"42","info":{"name":"Ann"}}}`,
		},
		{
			name: "leave of an anonymous client keeps the empty user",
			push: protocol.Push{Channel: "chat:lobby", Leave: &protocol.ClientInfo{Client: "c2"}},
			want: `{"channel":"chat:lobby","leave":{"client":"c2","user":""}}`,
		},
		{
			name: "sub",
			push: protocol.Push{Channel: "news", Sub: &protocol.SubPush{Offset: 3, Epoch: "ab", Recoverable: true}},
			want: `{"channel":"news","sub":{"offset":3,"epoch":"ab","recoverable":true}}`,
		},
		{
			name: "sub without history",
			push: protocol.Push{Channel: "alerts", Sub: &protocol.SubPush{}},
			want: `{"channel":"alerts","sub":{}}`,
		},
		{
			name: "unsub",
			push: protocol.Push{Channel: "news", Unsub: &protocol.UnsubPush{}},
			want: `{"channel":"news","unsub":{}}`,
		},
		{
			name: "ping",
			push: protocol.Push{Ping: &protocol.PingPush{}},
			want: `{"ping":{}}`,
		},
		{
			name: "disconnect",
			push: protocol.Push{Disconnect: &protocol.DisconnectPush{Code: 4001, Reason: "client too slow", Reconnect: true}},
			want: `{"disconnect":{"code":4001,"reason":"client too slow","reconnect":true}}`,
		},
		{
			name: "disconnect keeps reconnect false",
			push: protocol.Push{Disconnect: &protocol.DisconnectPush{Code: 4501, Reason: "too many invalid commands"}},
			want: `{"disconnect":{"code":4501,"reason":"too many invalid commands","reconnect":false}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := protocol.EncodePush(&tt.push)
			if string(got) != tt.want {
				t.Fatalf("EncodePush\n got %s\nwant %s", got, tt.want)
			}
			var back protocol.Push
			if err := strictUnmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.push) {
				t.Errorf("round trip\n got %s\nwant %s", dump(back), dump(tt.push))
			}
		})
	}
}

// TestAppendPub checks that the fan-out fast path writes the same bytes as
// the general encoder, for compact data (what AppendPub is documented to get).
func TestAppendPub(t *testing.T) {
	channels := []string{
		"news",
		"chat:lobby",
		"user:42#alice,bob=/+~!@.-_",
		`quote"back\slash`,
		"<script>&amp;",
		"tab\tnewline\ncontrol\x01\x1f",
		"é日本🎉",
		"line\u2028para\u2029",
		"bad\xffutf8\xc3",
		// Not "": a pub always has a channel, and Push omits an empty one
		// while AppendPub writes "channel":"".
	}
	epochs := []string{"", "xyz", "a\"b", "<&>", "\xfe"}
	offsets := []uint64{0, 1, 6, 1<<64 - 1}
	datas := []string{`{"title":"hi"}`, `null`, `0`, `"s"`, `[1,2,{"a":[]}]`, `{"nested":{"x":true}}`, `-1.5e+10`}
	prefix := []byte("earlier message\n")
	for _, ch := range channels {
		for _, ep := range epochs {
			for _, off := range offsets {
				for _, data := range datas {
					want := protocol.EncodePush(&protocol.Push{Channel: ch, Pub: &protocol.PubPush{Offset: off, Epoch: ep, Data: json.RawMessage(data)}})
					got := protocol.AppendPub(nil, ch, off, ep, []byte(data))
					if !bytes.Equal(got, want) {
						t.Fatalf("AppendPub(%q, %d, %q, %s)\n got %s\nwant %s", ch, off, ep, data, got, want)
					}
					buf := append([]byte(nil), prefix...)
					buf = protocol.AppendPub(buf, ch, off, ep, []byte(data))
					if !bytes.HasPrefix(buf, prefix) || !bytes.Equal(buf[len(prefix):], want) {
						t.Fatalf("AppendPub to a non-empty buffer: got %q", buf)
					}
				}
			}
		}
	}
}

// strictUnmarshal decodes one JSON message, failing on unknown keys so that
// a test notices a key the Go types do not have.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("more than one JSON value in %s", b)
	}
	return nil
}

func BenchmarkAppendPub(b *testing.B) {
	data := []byte(`{"user":"alice","text":"hello, world","ts":1700000000}`)
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		buf = protocol.AppendPub(buf[:0], "chat:room-42", 123456, "Zq3x", data)
	}
}

// BenchmarkEncodePush is the general path AppendPub replaces; compare the two.
func BenchmarkEncodePush(b *testing.B) {
	data := json.RawMessage(`{"user":"alice","text":"hello, world","ts":1700000000}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		protocol.EncodePush(&protocol.Push{Channel: "chat:room-42", Pub: &protocol.PubPush{Offset: 123456, Epoch: "Zq3x", Data: data}})
	}
}
