package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	client "github.com/heraldrt/herald/clients/go"
)

// newCLIFlags returns a flag set for one of the subcommands. Output is
// discarded because parseCLIFlags decides where usage goes: stdout when
// asked for, stderr on a mistake.
func newCLIFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// aliasFlag makes --alias another name of the flag --name, so that an old
// spelling keeps working in scripts; help lists it next to name only.
func aliasFlag(fs *flag.FlagSet, alias, name string) {
	fs.Var(fs.Lookup(name).Value, alias, "the same as --"+name)
}

// parseCLIFlags parses args; ok false means the command is over and code is
// its exit status (0 for --help, 2 for a bad flag).
func parseCLIFlags(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (code int, ok bool) {
	err := parseInterspersed(fs, args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, fs, usage)
		return 0, false
	}
	return usageError(stderr, fs, flagErrorText(err)), false
}

// flagErrorText rewrites package flag's errors, which spell flags -name,
// in the --name of the help and the docs.
func flagErrorText(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + name
	}
	for _, p := range []string{"for flag -", "flag needs an argument: -"} {
		if i := strings.Index(msg, p); i >= 0 && !strings.HasPrefix(msg[i+len(p):], "-") {
			msg = msg[:i+len(p)] + "-" + msg[i+len(p):]
		}
	}
	return msg
}

// parseInterspersed parses flags wherever they are among the arguments, as
// people type them (`herald sub URL news --since 0`): package flag stops at
// the first argument that is not a flag. Everything after "--" is an
// argument, and so is a negative number (pub's JSON data -1). The
// arguments are left for fs.Args, in order.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		if !isFlagWord(a) {
			positional = append(positional, a)
			args = args[1:]
			continue
		}
		// One flag, with its value when it takes one, at a time.
		n := 1
		if takesValue(fs, a) && len(args) > 1 {
			n = 2
		}
		if err := fs.Parse(args[:n]); err != nil {
			return err
		}
		args = args[n:]
	}
	// A last Parse keeps the values set and puts the arguments where
	// fs.Args finds them; "--" keeps any of them from being read as a flag.
	return fs.Parse(append([]string{"--"}, positional...))
}

func isFlagWord(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	_, err := strconv.ParseFloat(a, 64)
	return err != nil
}

// takesValue says whether the flag word a (-name or --name, without =)
// is followed by its value. An unknown flag takes none: Parse reports it.
func takesValue(fs *flag.FlagSet, a string) bool {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// usageError reports a usage mistake in one line, with where to read the
// usage, and returns the exit status for bad usage. The whole help after
// a one-word mistake would bury the line that says what is wrong.
func usageError(stderr io.Writer, fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", fs.Name(), msg, fs.Name())
	return 2
}

// printUsage prints usage and the flags, in the --flag style of serve's
// help, every command alike.
func printUsage(w io.Writer, fs *flag.FlagSet, usage string) {
	fmt.Fprint(w, usage)
	fmt.Fprint(w, "\nFlags:\n")
	printFlags(w, fs)
}

// isAlias says whether f is another name of a flag, made by aliasFlag.
func isAlias(f *flag.Flag) bool { return strings.HasPrefix(f.Usage, "the same as --") }

func printFlags(w io.Writer, fs *flag.FlagSet) {
	aliases := map[flag.Value][]string{}
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if isAlias(f) {
			aliases[f.Value] = append(aliases[f.Value], "--"+f.Name)
			return
		}
		flags = append(flags, f)
	})
	for _, f := range flags {
		arg, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		if a := aliases[f.Value]; len(a) > 0 {
			slices.Sort(a)
			usage += " (also " + strings.Join(a, ", ") + ")"
		}
		if !slices.Contains([]string{"", "0", "false"}, f.DefValue) {
			usage += " (default " + f.DefValue + ")"
		}
		if len(name) > 20 {
			fmt.Fprintf(w, "  %s\n  %-20s %s\n", name, "", usage)
			continue
		}
		fmt.Fprintf(w, "  %-20s %s\n", name, usage)
	}
}

// checkChannels refuses channel arguments that cannot be what was meant: a
// word starting with - (a flag given after "--"), or a channel named twice,
// which the server would refuse as already subscribed after the first.
// It returns the usage error, or "".
func checkChannels(channels []string) string {
	seen := make(map[string]bool, len(channels))
	for _, ch := range channels {
		if strings.HasPrefix(ch, "-") {
			return fmt.Sprintf("%q is not a channel: words starting with - are flags", ch)
		}
		if seen[ch] {
			return fmt.Sprintf("channel %q is given twice: name each channel once", ch)
		}
		seen[ch] = true
	}
	return ""
}

// emptyToken refuses --token "": most often an unset shell variable
// (--token "$TOKEN"), which would otherwise connect anonymously without a
// word. It returns the usage error, or "".
func emptyToken(fs *flag.FlagSet, token string) string {
	if flagSet(fs, "token") && strings.TrimSpace(token) == "" {
		return "--token is empty (an unset variable?): give a token, e.g. from 'herald token --user 42', or leave --token out to connect anonymously"
	}
	return ""
}

// withTokenHint says what to do when a server that lets no anonymous
// client in refused a connection that sent no token.
func withTokenHint(err error, token string) error {
	if token == "" && tokenRefused(err) {
		return fmt.Errorf("%w: this server wants a token; pass --token (make one with 'herald token --user ID')", err)
	}
	return err
}

// transportFlag adds --transport, the transport sub and check connect
// over: the HTTP fallbacks are there to check a server from behind a
// proxy that blocks WebSocket.
func transportFlag(fs *flag.FlagSet, v *string) {
	fs.StringVar(v, "transport", client.TransportWebSocket, "connect over `NAME`: websocket, sse or http_stream (the HTTP fallbacks)")
}

// checkTransport refuses a --transport the server does not speak.
func checkTransport(t string) string {
	switch t {
	case client.TransportWebSocket, client.TransportSSE, client.TransportHTTPStream:
		return ""
	}
	return fmt.Sprintf("--transport %q: use websocket, sse or http_stream", t)
}
