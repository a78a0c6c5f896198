package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompletionScripts checks that every script names every command and
// every flag of each, and that the shells accept it.
func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	specs := completionSpecs(t.Context())
	dir := t.TempDir()
	for _, shell := range completionShells {
		stdout, stderr, code := runHerald(t, nil, "", "completion", shell)
		if code != 0 {
			t.Fatalf("herald completion %s: exit %d\nstderr:\n%s", shell, code, stderr)
		}
		for _, c := range commands() {
			if !strings.Contains(stdout, c.name) {
				t.Errorf("the %s script does not mention the command %s", shell, c.name)
			}
		}
		for _, s := range specs {
			for _, f := range s.flags {
				if !strings.Contains(stdout, f.name) {
					t.Errorf("the %s script does not mention %s --%s", shell, s.name, f.name)
				}
			}
		}
		file := filepath.Join(dir, "herald."+shell)
		if err := os.WriteFile(file, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("%s is not installed: its script's syntax is not checked", shell)
			continue
		}
		if out, err := exec.Command(shell, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n rejects the script: %v\n%s", shell, err, out)
		}
	}
}

// TestCompletionFlags checks that completion knows each command's flags:
// from the flag set where the command has one, and otherwise from its
// --help, read the same way for every command so that the two agree.
func TestCompletionFlags(t *testing.T) {
	t.Parallel()
	names := func(flags []flagSpec) []string {
		var out []string
		for _, f := range flags {
			if f.name != "help" {
				out = append(out, f.name)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, c := range commands() {
		fromHelp := names(helpFlags(t.Context(), c))
		if c.flags != nil {
			if got := names(commandFlags(t.Context(), c)); !slices.Equal(got, fromHelp) {
				t.Errorf("%s: flag set has %q, --help shows %q", c.name, got, fromHelp)
			}
		}
	}
	serve := names(helpFlags(t.Context(), serveCommand))
	for _, f := range serveFlags {
		if !slices.Contains(serve, f.name) {
			t.Errorf("serve --%s is missing from %q, read from serve --help", f.name, serve)
		}
	}
	for _, f := range helpFlags(t.Context(), serveCommand) {
		if f.value != (f.name != "dev") {
			t.Errorf("serve --%s: value %t", f.name, f.value)
		}
	}
}

// TestBashCompletion runs the bash script's function as bash would.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	var script bytes.Buffer
	if code := runCompletion(t.Context(), []string{"bash"}, &script, os.Stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, tc := range []struct{ words, want string }{
		{"herald ta", "tap"},
		{"herald c", "check config completion"},
		{"herald sub --pre", "--presence"},
		{"herald check --sub", "--subscribe"},
		{"herald completion ''", "bash zsh fish"},
		{"herald sub --since ''", ""},
		{"herald pub --ap", "--api --api-key"},
	} {
		prog := script.String() + "\nCOMP_WORDS=(" + tc.words + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]}-1))\n_herald\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("completing %q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

func TestCompletionUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"completion"}, {"completion", "powershell"}, {"completion", "bash", "zsh"}} {
		_, stderr, code := runHerald(t, nil, "", args...)
		if code != 2 || !isUsageError(stderr, "completion") {
			t.Fatalf("herald %s: exit %d, want 2 with a one-line usage error\nstderr:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}
