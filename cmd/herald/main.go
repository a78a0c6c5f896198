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
	return []*command{serveCommand, subCommand, pubCommand, checkCommand, benchCommand, tapCommand, tokenCommand, configCommand, completionCommand, versionCommand}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "herald: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Herald %s: a real-time messaging server.\n\nUsage:\n  herald <command> [flags] [arguments]\n\nCommands:\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun `herald <command> --help` for a command's flags.\n")
}

var versionCommand = &command{
	name:    "version",
	summary: "print the version",
	run: func(_ context.Context, _ []string, stdout, _ io.Writer) int {
		fmt.Fprintf(stdout, "herald %s\n", version)
		return 0
	},
}
