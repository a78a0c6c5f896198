package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeError says why one message of a frame could not be decoded. ID is
// the command's id when it could still be read, so the error reply can echo it.
type DecodeError struct {
	ID      uint32
	Unknown bool // the message is well-formed but names no known command
	Message string
}

func (e *DecodeError) Error() string { return e.Message }

// DecodeCommands splits a frame into its newline-separated messages and
// decodes each. It returns every command that decoded and one error per
// message that did not, in frame order via the callback, so that one bad
// message does not hide the good ones next to it.
func DecodeCommands(frame []byte, fn func(cmd *Command, err *DecodeError)) {
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		cmd, err := DecodeCommand(line)
		fn(cmd, err)
	}
}

// DecodeCommand decodes one JSON message into a Command.
func DecodeCommand(msg []byte) (*Command, *DecodeError) {
	var cmd Command
	if err := json.Unmarshal(msg, &cmd); err != nil {
		return nil, &DecodeError{ID: peekID(msg), Message: describeJSONError(err)}
	}
	switch cmd.count() {
	case 1:
		return &cmd, nil
	case 0:
		if bytes.Equal(msg, []byte("null")) {
			return nil, &DecodeError{Message: "a command must be a JSON object, got null"}
		}
		return nil, unknownCommand(cmd.ID, msg)
	default:
		return nil, &DecodeError{ID: cmd.ID, Message: "a command carries exactly one of " + commandList}
	}
}

// peekID reads "id" out of a message that failed to decode as a whole, so
// the error reply can still be matched to its command. It walks the
// top-level tokens only as far as "id".
func peekID(msg []byte) uint32 {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0
		}
		if key == "id" {
			var id uint32
			if dec.Decode(&id) != nil {
				return 0
			}
			return id
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return 0
		}
	}
	return 0
}

// unknownCommand names the keys that are not commands; a known command
// given as null is a bad request rather than an unknown command.
func unknownCommand(id uint32, msg []byte) *DecodeError {
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(msg, &keys)
	var names []string
	for k, v := range keys {
		if k == "id" {
			continue
		}
		if knownCommands[k] {
			return &DecodeError{ID: id, Message: fmt.Sprintf("command %q must be an object, got %s", k, truncate(string(v), 32))}
		}
		names = append(names, strconv.Quote(truncate(k, 32)))
	}
	if len(names) == 0 {
		return &DecodeError{ID: id, Unknown: true, Message: "the message names no command: send one of " + commandList}
	}
	sort.Strings(names)
	if len(names) > 3 {
		names = append(names[:3], "...")
	}
	return &DecodeError{ID: id, Unknown: true, Message: fmt.Sprintf("unknown command %s: protocol v1 knows %s", strings.Join(names, ", "), commandList)}
}

// commandNames are the commands of protocol v1, in the order of Command's
// fields. They are read from its json tags, so that a new command cannot
// be left out of the errors that list them.
var commandNames = func() []string {
	var names []string
	t := reflect.TypeFor[Command]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "id" && name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

var commandList = strings.Join(commandNames, ", ")

var knownCommands = func() map[string]bool {
	m := make(map[string]bool, len(commandNames))
	for _, n := range commandNames {
		m[n] = true
	}
	return m
}()

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return fmt.Sprintf("a command must be a JSON object, got a JSON %s", typeErr.Value)
		}
		return fmt.Sprintf("field %q must be %s, got a JSON %s", truncate(field, 64), jsonKind(typeErr.Type.Kind().String()), truncate(typeErr.Value, 32))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, truncate(syntaxErr.Error(), 128))
	}
	return "malformed JSON: " + truncate(err.Error(), 128)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "uint32", "uint64", "uint":
		return "a non-negative integer"
	case "int", "int64", "int32":
		return "an integer"
	}
	return "of another type"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// EncodeReply encodes a reply as one JSON message.
func EncodeReply(r *Reply) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Replies hold only encodable types; RawMessage fields come from
		// json.Unmarshal or json.Valid checks.
		panic("protocol: encode reply: " + err.Error())
	}
	return b
}

// EncodePush encodes a push as one JSON message.
func EncodePush(p *Push) []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic("protocol: encode push: " + err.Error())
	}
	return b
}

// AppendPub appends the publication push for a channel, the hot path of
// fan-out: encoded once per publication and shared by every subscriber.
// data must be compact JSON: valid, and without newlines, which would split
// the newline-delimited frame (hub.Publish compacts it). For such data and
// a non-empty channel it produces the same bytes as EncodePush, except
// that EncodePush also HTML-escapes <, > and & inside data.
func AppendPub(b []byte, channel string, offset uint64, epoch string, data []byte) []byte {
	b = append(b, `{"channel":`...)
	b = appendString(b, channel)
	b = append(b, `,"pub":{`...)
	if offset != 0 {
		b = append(b, `"offset":`...)
		b = strconv.AppendUint(b, offset, 10)
		b = append(b, ',')
	}
	if epoch != "" {
		b = append(b, `"epoch":`...)
		b = appendString(b, epoch)
		b = append(b, ',')
	}
	b = append(b, `"data":`...)
	b = append(b, data...)
	return append(b, "}}"...)
}

// appendString appends s as a JSON string, escaping as encoding/json does.
func appendString(b []byte, s string) []byte {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			safe = false
			break
		}
	}
	if safe {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s)
	return append(b, q...)
}
