package main

import (
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

// isUsageError says whether stderr is the one-line usage error of command
// name, with the pointer to its --help and without the help itself.
func isUsageError(stderr, name string) bool {
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	return len(lines) == 2 && strings.HasPrefix(lines[0], "herald "+name+": ") &&
		lines[1] == "Run 'herald "+name+" --help' for usage."
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args    []string
		pos     []string
		since   string
		json    bool
		wantErr string
	}{
		{args: []string{"URL", "news", "--since", "0"}, pos: []string{"URL", "news"}, since: "0"},
		{args: []string{"--json", "URL", "--since=5", "news"}, pos: []string{"URL", "news"}, since: "5", json: true},
		{args: []string{"URL", "--json", "news", "-since", "7"}, pos: []string{"URL", "news"}, since: "7", json: true},
		// A negative number and "-" (stdin) are arguments.
		{args: []string{"news", "-1", "--json"}, pos: []string{"news", "-1"}, json: true},
		{args: []string{"news", "-"}, pos: []string{"news", "-"}},
		{args: []string{"URL", "--", "--json", "-x"}, pos: []string{"URL", "--json", "-x"}},
		// A flag's value is its value, even when it looks like a flag.
		{args: []string{"--since", "-3", "URL"}, wantErr: `invalid value "-3"`},
		{args: []string{"URL", "--since"}, wantErr: "flag needs an argument"},
		{args: []string{"URL", "--nope"}, wantErr: "not defined: -nope"},
		{args: []string{"URL", "--help"}, wantErr: flag.ErrHelp.Error()},
	}
	for _, tt := range tests {
		fs := newCLIFlags("test")
		since := fs.Uint64("since", 0, "")
		js := fs.Bool("json", false, "")
		err := parseInterspersed(fs, tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.wantErr)
			}
			if tt.wantErr == flag.ErrHelp.Error() && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("%q: error %v, want flag.ErrHelp", tt.args, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !slices.Equal(fs.Args(), tt.pos) || *js != tt.json || (tt.since != "" && fs.Lookup("since").Value.String() != tt.since) {
			t.Errorf("%q: args %q, since %d, json %t; want %q, %s, %t", tt.args, fs.Args(), *since, *js, tt.pos, tt.since, tt.json)
		}
	}
}
