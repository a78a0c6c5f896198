package main

// Tests of the command line as a new user types it: flags after the
// arguments, typos, mistakes answered in one line, and the traps that
// connected or exited with no word on what was wrong.

import (
	"net"
	"regexp"
	"strings"
	"testing"
)

func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	publishOK(t, base, "news", `{"n":1}`)

	// The flags at the end, and the API key under both its names.
	stdout, stderr, code := runHerald(t, nil, "", "pub", "--api", base, "news", `{"n":2}`, "--api-key", testAPIKey)
	if code != 0 {
		t.Fatalf("pub with --api-key last: exit %d\nstderr:\n%s", code, stderr)
	}
	decodePubReply(t, stdout)
	// The URL the server prints at start is accepted by pub, as by sub.
	ws := strings.Replace(base, "http://", "ws://", 1) + "/connection/websocket"
	if _, stderr, code := runHerald(t, nil, "", "pub", "news", `{"n":3}`, "--key", testAPIKey, "--api", ws); code != 0 {
		t.Fatalf("pub --api %s: exit %d\nstderr:\n%s", ws, code, stderr)
	}

	// --since after the channel catches up rather than subscribing to
	// channels named "--since" and "0".
	sub := startHerald(t, nil, "sub", base, "news", "--since", "0")
	sub.waitFor(t, sub.stdout, "the three publications", hasLines(3))
	for i, line := range sub.stdout.lines()[:3] {
		if want := `"data":{"n":` + string(rune('1'+i)) + `}`; !strings.Contains(line, want) {
			t.Errorf("sub line %d = %s, want %s", i, line, want)
		}
	}
	if strings.Contains(sub.stderr.String(), "--since") {
		t.Errorf("sub took --since as a channel:\n%s", sub.stderr)
	}

	if _, stderr, code := runHerald(t, nil, "", "check", base, "--api-key", testAPIKey, "--subscribe", "news"); code != 0 {
		t.Fatalf("check URL --api-key --subscribe: exit %d\nstderr:\n%s", code, stderr)
	}
	if _, stderr, code := runHerald(t, nil, "", "tap", "news", "--api", base, "--api-key", testAPIKey, "--history", "1", "--timeout", "1ns"); code == 2 {
		t.Fatalf("tap CHANNEL --api ...: usage error\nstderr:\n%s", stderr)
	}
}

func TestUsageErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"sub", []string{"sub", "http://127.0.0.1:1"}, "need a URL and at least one channel"},
		{"sub", []string{"sub", "http://127.0.0.1:1", "news", "--nope"}, "unknown flag --nope"},
		{"sub", []string{"sub", "--since", "x", "http://127.0.0.1:1", "news"}, `invalid value "x" for flag --since`},
		{"sub", []string{"sub", "http://127.0.0.1:1", "news", "--since"}, "flag needs an argument: --since"},
		{"pub", []string{"pub", "news", "{}"}, "--api URL is required"},
		{"check", []string{"check"}, "need exactly one URL"},
		{"tap", []string{"tap", "--api", "http://127.0.0.1:1"}, "need at least one channel"},
		{"bench", []string{"bench", "--api-key", "k"}, "need exactly one URL"},
		{"token", []string{"token", "extra"}, `unexpected argument "extra"`},
		{"completion", []string{"completion", "tcsh"}, `unknown shell "tcsh"`},
		{"serve", []string{"serve", "--nope"}, "unknown flag --nope"},
		{"serve", []string{"serve", "extra"}, `unexpected argument "extra"`},
		{"config check", []string{"config", "check"}, "want one FILE"},
	} {
		_, stderr, code := runHerald(t, nil, "", tc.args...)
		if code != 2 || !isUsageError(stderr, tc.name) || !strings.Contains(stderr, tc.want) {
			t.Errorf("herald %s: exit %d, want 2 and %q in one line with a pointer to --help\nstderr:\n%s",
				strings.Join(tc.args, " "), code, tc.want, stderr)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ word, want string }{
		{"serv", `unknown command "serv"; did you mean "serve"?`},
		{"sbu", `did you mean "sub"?`},
		{"confg", `did you mean "config"?`},
		{"tok", `did you mean "token"?`},
		{"xyzzy", `unknown command "xyzzy"` + "\n"},
		{"--verbose", `unknown flag "--verbose"`},
	} {
		stdout, stderr, code := runHerald(t, nil, "", tc.word)
		if code != 2 || stdout != "" || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 2 ||
			!strings.HasSuffix(stderr, "Run 'herald --help' for the commands.\n") {
			t.Errorf("herald %s: exit %d, stderr %q; want 2 and %q in two lines", tc.word, code, stderr, tc.want)
		}
	}
	if stdout, _, code := runHerald(t, nil, "", "help", "sub"); code != 0 || !strings.HasPrefix(stdout, "Usage: herald sub") {
		t.Errorf("herald help sub: exit %d, stdout %q; want sub's help", code, stdout)
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		stdout, stderr, code := runHerald(t, nil, "", args...)
		if code != 0 || !regexp.MustCompile(`^herald \S+\n$`).MatchString(stdout) {
			t.Errorf("herald %s: exit %d, stdout %q, stderr %q; want 0 and the version", args[0], code, stdout, stderr)
		}
	}
}

// TestHelpFlagStyle: every command's help spells its flags --name, as
// serve's help and the docs do.
func TestHelpFlagStyle(t *testing.T) {
	t.Parallel()
	single := regexp.MustCompile(`(?m)^\s+-[A-Za-z]`)
	for _, c := range commands() {
		if c.name == "version" {
			continue
		}
		stdout, _, code := runHerald(t, nil, "", c.name, "--help")
		if code != 0 || !strings.Contains(stdout, "Usage:") {
			t.Errorf("herald %s --help: exit %d\n%s", c.name, code, stdout)
			continue
		}
		if m := single.FindString(stdout); m != "" {
			t.Errorf("herald %s --help lists a flag as %q, want --name:\n%s", c.name, strings.TrimSpace(m), stdout)
		}
	}
	stdout, _, _ := runHerald(t, nil, "", "pub", "--help")
	if !strings.Contains(stdout, "--api-key KEY") || !strings.Contains(stdout, "(also --key)") {
		t.Errorf("pub --help does not list --api-key KEY with its alias --key:\n%s", stdout)
	}
}

func TestChannelArguments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"sub", []string{"sub", "http://127.0.0.1:1", "news", "news"}, `channel "news" is given twice`},
		{"sub", []string{"sub", "http://127.0.0.1:1", "--", "-x"}, `"-x" is not a channel`},
		{"tap", []string{"tap", "--api", "http://127.0.0.1:1", "--api-key", "k", "a", "b", "a"}, `channel "a" is given twice`},
		{"pub", []string{"pub", "--api", "http://127.0.0.1:1", "--api-key", "k", "--", "-x", "{}"}, `"-x" is not a channel`},
	} {
		_, stderr, code := runHerald(t, nil, "", tc.args...)
		if code != 2 || !isUsageError(stderr, tc.name) || !strings.Contains(stderr, tc.want) {
			t.Errorf("herald %s: exit %d, want 2 and %q\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.want, stderr)
		}
	}
}

// TestEmptyToken: --token "" is most often an unset variable; connecting
// anonymously instead would hide it.
func TestEmptyToken(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sub", "http://127.0.0.1:1", "news", "--token", ""},
		{"check", "--token", " ", "http://127.0.0.1:1"},
		{"tap", "--api", "http://127.0.0.1:1", "--api-key", "k", "--token=", "news"},
		{"bench", "--api-key", "k", "--token", "", "http://127.0.0.1:1"},
	} {
		_, stderr, code := runHerald(t, nil, "", args...)
		if code != 2 || !isUsageError(stderr, args[0]) || !strings.Contains(stderr, "--token is empty") {
			t.Errorf("herald %s: exit %d, want 2 saying --token is empty\nstderr:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestTokenOnlyServer: against a server that lets no anonymous client in,
// the tools say to pass --token, and bench takes one.
func TestTokenOnlyServer(t *testing.T) {
	t.Parallel()
	base := startAuthServer(t)
	for _, args := range [][]string{
		{"bench", "--api-key", testAPIKey, "--conns", "1", "--duration", "1s", base},
		{"sub", base, "news"},
		{"check", base},
	} {
		_, stderr, code := runHerald(t, nil, "", args...)
		if code != 1 || !strings.Contains(stderr, "4502") || !strings.Contains(stderr, "pass --token") {
			t.Errorf("herald %s: exit %d, want 1 with 4502 and a hint to pass --token\nstderr:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	tok, _, code := runHerald(t, nil, "", "token", "--user", "42", "--secret", testHMACSecret)
	if code != 0 {
		t.Fatalf("herald token: exit %d", code)
	}
	stdout, stderr, code := runHerald(t, nil, "", "bench", "--api-key", testAPIKey, "--conns", "2", "--rate", "20",
		"--duration", "1s", "--json", "--token", strings.TrimSpace(tok), base)
	if code != 0 {
		t.Fatalf("herald bench --token: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if out := decodeBenchOutput(t, stdout, stderr); out.Connections != 2 || out.Errors != 0 {
		t.Errorf("bench --token: %d connections, %d errors; want 2 and none", out.Connections, out.Errors)
	}
}

// TestListenInUse: the error names the setting to change.
func TestListenInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, stderr, code := runHerald(t, nil, "", "serve", "--dev", "--listen", l.Addr().String())
	if code != 1 || !strings.Contains(stderr, "already in use") || !strings.Contains(stderr, "--listen") || !strings.Contains(stderr, "HERALD_LISTEN") {
		t.Errorf("serve on a busy port: exit %d, want 1 naming --listen and HERALD_LISTEN\nstderr:\n%s", code, stderr)
	}
}
