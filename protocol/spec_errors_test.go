package protocol_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/heraldrt/herald/protocol"
)

// TestSpecDecodeErrorExamples keeps the error examples of docs/protocol.md
// honest: wherever a "→" line that does not decode is followed by a "←"
// line, that line must be the error reply the server sends for it (104 for
// an unknown command, 107 otherwise), byte for byte, id included. So the
// list of commands an unknown-command error names, and the echoed id of a
// malformed message, cannot drift from the code again.
func TestSpecDecodeErrorExamples(t *testing.T) {
	f, err := os.Open("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checked := 0
	var sent string // the last → line not yet answered
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if cmd, ok := strings.CutPrefix(line, "→ "); ok {
			sent = cmd
			continue
		}
		got, ok := strings.CutPrefix(line, "← ")
		if !ok || sent == "" {
			continue
		}
		cmd := sent
		sent = ""
		_, derr := protocol.DecodeCommand([]byte(cmd))
		if derr == nil {
			continue // a command the server carries out: not a decode error
		}
		code := uint32(107) // bad_request
		if derr.Unknown {
			code = 104 // unknown_command
		}
		want := protocol.EncodeReply(&protocol.Reply{ID: derr.ID, Error: &protocol.Error{Code: code, Message: derr.Message}})
		if got != string(want) {
			t.Errorf("docs/protocol.md:%d: the server answers\n\t%s\nwith\n\t%s\nnot\n\t%s", n, cmd, want, got)
		}
		checked++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The unknown command, the malformed JSON and the wrong type shown
	// under "Errors" at least.
	if checked < 3 {
		t.Errorf("checked %d decode error examples in docs/protocol.md, want at least 3", checked)
	}
}
