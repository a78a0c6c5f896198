package protocol_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldrt/herald/protocol"
)

// TestSpecExamples keeps docs/protocol.md honest: every line of a block
// fenced as "json command", "json reply" or "json push" must decode into
// the Go types and re-encode to exactly the bytes shown (so keys, key order
// and omitted fields match what the server emits), and the spec must show
// every kind of command, reply and push at least once.
func TestSpecExamples(t *testing.T) {
	f, err := os.Open("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	seen := map[string]bool{} // "command connect", "reply error", "push pub", ...
	block := ""               // the example kind of the open fence, or "" outside one
	inFence := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if inFence {
				inFence, block = false, ""
				continue
			}
			inFence = true
			if info := strings.Fields(strings.TrimPrefix(line, "```")); len(info) == 2 && info[0] == "json" {
				block = info[1]
			}
			continue
		}
		if block == "" || strings.TrimSpace(line) == "" {
			continue
		}
		msg := []byte(line)
		var got []byte
		var v any
		switch block {
		case "command":
			cmd, derr := protocol.DecodeCommand(msg)
			if derr != nil {
				t.Errorf("docs/protocol.md:%d: command does not decode: %s\n\t%s", n, derr.Message, line)
				continue
			}
			got, err = json.Marshal(cmd)
			if err != nil {
				t.Fatal(err)
			}
			v = cmd
		case "reply":
			var r protocol.Reply
			if err := strictUnmarshal(msg, &r); err != nil {
				t.Errorf("docs/protocol.md:%d: reply does not decode: %v\n\t%s", n, err, line)
				continue
			}
			got, v = protocol.EncodeReply(&r), &r
		case "push":
			var p protocol.Push
			if err := strictUnmarshal(msg, &p); err != nil {
				t.Errorf("docs/protocol.md:%d: push does not decode: %v\n\t%s", n, err, line)
				continue
			}
			got, v = protocol.EncodePush(&p), &p
		default:
			t.Errorf("docs/protocol.md:%d: unknown example kind %q: use json command, json reply or json push", n, block)
			block = ""
			continue
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("docs/protocol.md:%d: the server would write this %s differently\n\tspec: %s\n\tcode: %s", n, block, line, got)
		}
		for _, k := range setKeys(v) {
			seen[block+" "+k] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range [...]struct {
		block string
		typ   any
	}{{"command", protocol.Command{}}, {"reply", protocol.Reply{}}, {"push", protocol.Push{}}} {
		for _, k := range pointerKeys(reflect.TypeOf(want.typ)) {
			if !seen[want.block+" "+k] {
				t.Errorf("docs/protocol.md has no json %s example of %q", want.block, k)
			}
		}
	}
}

// pointerKeys lists the JSON keys of a message type's kinds: its pointer fields.
func pointerKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if f := t.Field(i); f.Type.Kind() == reflect.Pointer {
			keys = append(keys, strings.Split(f.Tag.Get("json"), ",")[0])
		}
	}
	return keys
}

// setKeys lists the JSON keys of the kinds set in a decoded message.
func setKeys(v any) []string {
	rv := reflect.ValueOf(v).Elem()
	var keys []string
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			keys = append(keys, strings.Split(rv.Type().Field(i).Tag.Get("json"), ",")[0])
		}
	}
	return keys
}
