package protocol_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldrt/herald/protocol"
)

// FuzzDecodeCommands feeds arbitrary frames to the decoder. It must never
// panic, must report every non-blank line exactly once, and every command
// it accepts must carry exactly one kind and survive a round trip through
// encoding/json.
func FuzzDecodeCommands(f *testing.F) {
	seeds := []string{
		`{"id":1,"connect":{}}`,
		`{"id":1,"connect":{"token":"eyJ.x.y","name":"herald-js","version":"1.2.3","data":{"lang":"en"}}}`,
		`{"id":2,"subscribe":{"channel":"chat:lobby"}}`,
		`{"id":2,"subscribe":{"channel":"news","token":"t","recover":true,"offset":6,"epoch":"xyz"}}`,
		`{"id":3,"unsubscribe":{"channel":"chat:lobby"}}`,
		`{"id":4,"publish":{"channel":"chat:lobby","data":{"text":"hi"}}}`,
		`{"id":4,"publish":{"channel":"c","data": [1, 2.50, "<&>", null, true] }}`,
		`{"id":4,"publish":{"channel":"c"}}`,
		`{"id":4,"publish":{"channel":"c","data":null}}`,
		`{"id":4,"publish":{"channel":"c","data":{"typing":true},"ephemeral":true,"echo":false}}`,
		`{"id":4,"publish":{"channel":"c","data":1,"echo":true}}`,
		`{"id":4,"publish":{"channel":"c","data":1,"echo":null,"ephemeral":"yes"}}`,
		`{"id":5,"ping":{}}`,
		`{"pong":{}}`,
		`{"id":6,"history":{"channel":"news"}}`,
		`{"id":6,"history":{"channel":"news","since":{"offset":6,"epoch":"xyz"},"limit":10,"reverse":true}}`,
		`{"id":6,"history":{"channel":"news","since":{},"limit":-1}}`,
		`{"id":6,"history":{"channel":"news","since":null,"limit":-9223372036854775808}}`,
		`{"id":6,"history":{"channel":"news","limit":9223372036854775808}}`,
		`{"id":6,"history":{"channel":"news","limit":1.5}}`,
		`{"id":6,"history":{"channel":"news","since":{"offset":-1}}}`,
		`{"id":7,"presence":{"channel":"chat:lobby"}}`,
		`{"id":7,"presence":{}}`,
		`{"id":8,"presence_stats":{"channel":"chat:lobby"}}`,
		`{"id":8,"presence_stats":null}`,
		`{"id":9,"rpc":{"method":"echo","data":{"x": 1}}}`,
		`{"id":9,"rpc":{"method":"echo","data":null}}`,
		`{"id":9,"rpc":{"method":""}}`,
		`{"id":9,"rpc":{"method":"echo"},"history":{"channel":"a"}}`,
		"{\"id\":1,\"history\":{\"channel\":\"a\"}}\n{\"id\":2,\"presence\":{\"channel\":\"a\"}}\n{\"id\":3,\"presence_stats\":{\"channel\":\"a\"}}\n{\"id\":4,\"rpc\":{\"method\":\"m\",\"data\":[]}}\n",
		`{"id":3,"refresh":{},"sub_refresh":{},"message":{},"zzz":{}}`,
		"{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\r\n\n{\"id\":3,\"ping\":{}}\n",
		"{\"id\":1,\"ping\":{}}\n[]\n{\"id\":3,\"histroy\":{}}\n{\"id\":4,\"subscribe\":{\"channel\":4}}\n{}\n",
		`{"id":7,"subscribe":{"channel":5}}`,
		`{"id":4294967295,"ping":{}}`,
		`{"id":4294967296,"ping":{}}`,
		`{"id":-1,"ping":{}}`,
		`{"id":1e2,"ping":{}}`,
		`{"id":1,"ping":{},"pong":{}}`,
		`{"id":1,"ping":null}`,
		`{"ID":1,"PING":{}}`,
		`{"id":1,"id":2,"ping":{}}`,
		`{"id":1,"subscribe":{"channel":"a","channel":"b"}}`,
		`{"id":1,"subscribe":{"channel":"\u00e9\ud83c\udf89\u2028"}}`,
		`{"id":1,"subscribe":{"channel":"\ud800"}}`,
		"{\"id\":1,\"subscribe\":{\"channel\":\"a\xffb\"}}",
		"{\"id\":1,\"ping\":{}}\xff",
		`[{"id":1,"ping":{}}]`, `"ping"`, `42`, `true`, `null`, `{}`,
		`{"id":7,"subscribe":{"channel":"x"}`,
		`{"id":1,"ping":{}}{"id":2,"ping":{}}`,
		`{"id":1,"connect":{"data":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}`,
		"",
		"\n\r\n \t\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		lines := 0
		for _, line := range bytes.Split(frame, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				lines++
			}
		}
		calls := 0
		protocol.DecodeCommands(frame, func(cmd *protocol.Command, derr *protocol.DecodeError) {
			calls++
			if (cmd == nil) == (derr == nil) {
				t.Fatalf("callback got cmd=%v err=%v: want exactly one", cmd, derr)
			}
			if derr != nil {
				if derr.Message == "" || !utf8.ValidString(derr.Message) {
					t.Fatalf("error message %q is empty or not UTF-8", derr.Message)
				}
				return
			}
			if n := kinds(cmd); n != 1 || cmd.Name() == "" {
				t.Fatalf("decoded a command with %d kinds (name %q): %s", n, cmd.Name(), dump(cmd))
			}
			enc, err := json.Marshal(cmd)
			if err != nil {
				t.Fatalf("encoding/json cannot encode %#v: %v", cmd, err)
			}
			back, derr := protocol.DecodeCommand(enc)
			if derr != nil {
				t.Fatalf("re-encoded command %s does not decode: %s", enc, derr.Message)
			}
			if !equalCommands(t, cmd, back) {
				t.Fatalf("round trip changed the command\n was %s\n now %s", dump(cmd), dump(back))
			}
		})
		if calls != lines {
			t.Fatalf("%d callbacks for %d non-blank lines", calls, lines)
		}
	})
}

// kinds counts the kinds set in a command or push (its pointer fields) by
// reflection, so that a kind added to the type is counted without editing
// this test.
func kinds(msg any) int {
	v := reflect.ValueOf(msg).Elem()
	n := 0
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			n++
		}
	}
	return n
}

// equalCommands compares two commands, with JSON data compared by value:
// encoding/json compacts and escapes raw data, and writes absent publish
// data as null.
func equalCommands(t *testing.T, a, b *protocol.Command) bool {
	if a.Name() != b.Name() {
		return false
	}
	a, b = clone(a), clone(b)
	if a.Connect != nil && !sameJSON(t, a.Connect.Data, b.Connect.Data) ||
		a.Publish != nil && !sameJSON(t, a.Publish.Data, b.Publish.Data) ||
		a.RPC != nil && !sameJSON(t, a.RPC.Data, b.RPC.Data) {
		return false
	}
	if a.Connect != nil {
		a.Connect.Data, b.Connect.Data = nil, nil
	}
	if a.Publish != nil {
		a.Publish.Data, b.Publish.Data = nil, nil
	}
	if a.RPC != nil {
		a.RPC.Data, b.RPC.Data = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// clone copies the requests whose data equalCommands clears.
func clone(c *protocol.Command) *protocol.Command {
	d := *c
	if c.Connect != nil {
		v := *c.Connect
		d.Connect = &v
	}
	if c.Publish != nil {
		v := *c.Publish
		d.Publish = &v
	}
	if c.RPC != nil {
		v := *c.RPC
		d.RPC = &v
	}
	return &d
}

func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	va, vb := jsonValue(t, a), jsonValue(t, b)
	return reflect.DeepEqual(va, vb)
}

func jsonValue(t *testing.T, raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil // absent: encodes as null, or not at all
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoded data %q is not JSON: %v", raw, err)
	}
	return v
}

// FuzzAppendPub checks the fan-out encoder against encoding/json: for valid
// JSON data its output is one valid JSON message that decodes back to its
// inputs, adds no newline (which would split the frame), and is the same
// bytes as EncodePush whenever encoding/json would write data unchanged.
func FuzzAppendPub(f *testing.F) {
	f.Add("news", uint64(0), "", []byte(`{"title":"hi"}`))
	f.Add("news", uint64(6), "xyz", []byte(`{"title":"hi"}`))
	f.Add("chat:lobby", uint64(1<<64-1), "e", []byte(`null`))
	f.Add("user:42#alice,bob=/+~!@.-_", uint64(1), "", []byte(`[1,2.5e-3,"x",true,{}]`))
	f.Add(`quote"back\slash`, uint64(2), `a"b`, []byte(`"s"`))
	f.Add("<script>&amp;", uint64(3), "<&>", []byte(`{"h":"<b>&amp;</b>"}`))
	f.Add("tab\tnl\nctl\x01", uint64(4), "\x7f", []byte(`0`))
	f.Add("é日本🎉\u2028\u2029", uint64(5), "🎉", []byte(`"\u2028"`))
	f.Add("bad\xffutf8\xc3", uint64(6), "\xfe", []byte("\"\xff\""))
	f.Add("", uint64(0), "", []byte(` { "spaced" : [ 1 , 2 ] } `))
	f.Add("c", uint64(0), "", []byte("{\"a\":\n1}"))
	f.Fuzz(func(t *testing.T, channel string, offset uint64, epoch string, data []byte) {
		if !json.Valid(data) {
			t.Skip("AppendPub requires valid JSON data")
		}
		prefix := []byte("{\"pong\":{}}\n")
		buf := protocol.AppendPub(append([]byte(nil), prefix...), channel, offset, epoch, data)
		if !bytes.HasPrefix(buf, prefix) {
			t.Fatalf("AppendPub overwrote the buffer it appends to: %q", buf)
		}
		out := buf[len(prefix):]
		if !json.Valid(out) {
			t.Fatalf("AppendPub(%q, %d, %q, %q) = %q: not valid JSON", channel, offset, epoch, data, out)
		}
		if bytes.Count(out, []byte("\n")) > bytes.Count(data, []byte("\n")) {
			t.Fatalf("AppendPub added a newline, splitting the frame: %q", out)
		}

		var keys struct {
			Pub map[string]json.RawMessage
		}
		if err := json.Unmarshal(out, &keys); err != nil {
			t.Fatal(err)
		}
		_, hasOffset := keys.Pub["offset"]
		_, hasEpoch := keys.Pub["epoch"]
		if hasOffset != (offset != 0) || hasEpoch != (epoch != "") {
			t.Fatalf("offset/epoch present = %v/%v for offset %d epoch %q: %s", hasOffset, hasEpoch, offset, epoch, out)
		}

		var push protocol.Push
		if err := strictUnmarshal(out, &push); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if push.Pub == nil || kinds(&push) != 1 {
			t.Fatalf("not a pub push: %s", out)
		}
		if push.Channel != jsonString(channel) || push.Pub.Epoch != jsonString(epoch) || push.Pub.Offset != offset {
			t.Fatalf("decoded channel %q offset %d epoch %q, want %q %d %q", push.Channel, push.Pub.Offset, push.Pub.Epoch, channel, offset, epoch)
		}
		if want := bytes.Trim(data, " \t\r\n"); !bytes.Equal(push.Pub.Data, want) {
			t.Fatalf("decoded data %q, want %q", push.Pub.Data, want)
		}

		if canonical, err := json.Marshal(json.RawMessage(data)); err == nil && bytes.Equal(canonical, data) && channel != "" {
			want := protocol.EncodePush(&protocol.Push{Channel: channel, Pub: &protocol.PubPush{Offset: offset, Epoch: epoch, Data: data}})
			if !bytes.Equal(out, want) {
				t.Fatalf("AppendPub and EncodePush differ\nAppendPub  %q\nEncodePush %q", out, want)
			}
		}
	})
}

// jsonString is s as it reads after a trip through a JSON string:
// encoding/json replaces each invalid UTF-8 byte with U+FFFD.
func jsonString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}
