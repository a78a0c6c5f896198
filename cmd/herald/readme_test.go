package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeSection returns the text of README.md's "## title" section.
func readmeSection(t *testing.T, readme, title string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", title)
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}

// shellWords splits a command line of the README as sh would, for the
// quoting it uses: words, and '...' kept whole.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
			}
			inWord = false
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestReadmeTryIt runs "Try it" against the server "Set up" starts, as a
// new user would paste them: the API key, the flags and the URLs must
// agree with what the binary does.
func TestReadmeTryIt(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	setup := readmeSection(t, readme, "Set up")
	if !strings.Contains(setup, "go install ./cmd/herald") || !strings.Contains(setup, "go build ./cmd/herald") {
		t.Error(`"Set up" does not say how to get the herald binary (go install, go build)`)
	}
	var serve []string
	for _, line := range strings.Split(setup, "\n") {
		if strings.HasPrefix(line, "herald serve ") {
			serve = shellWords(line)[1:]
		}
	}
	if serve == nil {
		t.Fatal(`"Set up" starts no "herald serve"`)
	}
	addr := freeAddr(t)
	server := startHerald(t, nil, append(serve, "--listen", addr)...)
	server.waitFor(t, server.stderr, "the server to listen", hasAll("msg=serving"))
	base := "http://" + addr

	var sub *process
	ran := 0
	for _, line := range strings.Split(readmeSection(t, readme, "Try it"), "\n") {
		if !strings.HasPrefix(line, "herald ") {
			continue
		}
		args := shellWords(strings.ReplaceAll(line, "http://127.0.0.1:8000", base))[1:]
		if args[0] == "sub" {
			if sub == nil { // the first: watch while the others publish
				sub = startHerald(t, nil, args...)
				sub.waitFor(t, sub.stderr, "the subscription", hasAll("subscribed"))
			}
			continue
		}
		if _, stderr, code := runHerald(t, nil, "", args...); code != 0 {
			t.Errorf("README: %s: exit %d\nstderr:\n%s", line, code, stderr)
		}
		ran++
	}
	if sub == nil || ran < 2 {
		t.Fatalf(`"Try it" has no herald sub, pub and check to run`)
	}
	sub.waitFor(t, sub.stdout, "the publication of Try it", hasAll(`"text":"hello"`))
}

// TestReadmeListsDocs: every document under docs/ is listed in the README.
func TestReadmeListsDocs(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	docs := readmeSection(t, string(b), "Documentation")
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	for _, f := range files {
		if name := "docs/" + filepath.Base(f); !strings.Contains(docs, "("+name+")") {
			t.Errorf("README.md's Documentation does not link %s", name)
		}
	}
}
