// Command herald is the Herald real-time messaging server and its tools in
// one binary: `herald serve` runs the server; sub, pub and check talk to a
// running one; config checks and prints configuration.
//
// This is the only place where the packages are wired together.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one `herald` subcommand. run gets the arguments after the
// command's name and returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	// flags, when set, returns a new set of the command's flags, unparsed,
	// for shell completion. Commands that parse their own flags leave it
	// nil; completion then reads the flags from their --help.
	flags func() *flag.FlagSet
}

func commands() []*command {
	return []*command{serveCommand, subCommand, pubCommand, checkCommand, benchCommand, tapCommand, traceCommand, tokenCommand, configCommand, completionCommand, versionCommand}
}

func main() {
	if info, ok := debug.ReadBuildInfo(); ok && version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		// `go install github.com/heraldrt/herald/cmd/herald@v1.2.3`
		// sets no -ldflags, but records the module version.
		version = info.Main.Version
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || (args[0] == "help" && len(args) == 1) {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "help" && len(args) > 1 {
		args = []string{args[1], "--help"} // herald help sub
	}
	if args[0] == "--version" || args[0] == "-version" {
		return versionCommand.run(ctx, nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if strings.HasPrefix(args[0], "-") {
		msg = fmt.Sprintf("unknown flag %q: flags go after the command", args[0])
	} else if near := nearestCommand(args[0]); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	fmt.Fprintf(stderr, "herald: %s\nRun 'herald --help' for the commands.\n", msg)
	return 2
}

// nearestCommand is the command a typo most likely meant: the one fewest
// edits away, if at most two (`serv`, `sbu`, `confg`), or that the word
// begins.
func nearestCommand(word string) string {
	best, bestDist := "", 3
	for _, c := range commands() {
		d := editDistance(word, c.name)
		if len(word) >= 2 && strings.HasPrefix(c.name, word) {
			d = 1
		}
		if d < bestDist {
			best, bestDist = c.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, counting a
// swap of two neighbours as one edit, as a typo is.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Herald %s: a real-time messaging server.\n\nUsage:\n  herald <command> [flags] [arguments]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun `herald <command> --help` for a command's flags; `herald --version` prints the version.\n")
}

var versionCommand = &command{
	name:    "version",
	summary: "print the version",
	run: func(_ context.Context, _ []string, stdout, _ io.Writer) int {
		fmt.Fprintf(stdout, "herald %s\n", version)
		return 0
	},
}
