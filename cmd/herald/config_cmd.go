package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var configCommand = &command{
	name:    "config",
	summary: "check a configuration file or print the defaults",
	run: func(_ context.Context, args []string, stdout, stderr io.Writer) int {
		return runConfig(args, os.LookupEnv, stdout, stderr)
	},
}

const configUsage = `Usage:
  herald config check FILE   check FILE as serve reads it (with HERALD_*
                             variables); print "FILE: ok" or the problems
  herald config defaults     print the default configuration as YAML, each
                             key with what it means

Start a configuration file with:
  herald config defaults > herald.yaml
and keep only the keys you change. See docs/configuration.md.
`

func runConfig(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return 0
	case "check":
		return runConfigCheck(args[1:], getenv, stdout, stderr)
	case "defaults":
		return runConfigPrint(args[1:], "defaults", configDefaultsUsage, defaultsYAML, stdout, stderr)
	case "markdown":
		// Hidden: it feeds docs/configuration.md, users have no need for it.
		return runConfigPrint(args[1:], "markdown", configMarkdownUsage, configMarkdown, stdout, stderr)
	}
	fmt.Fprintf(stderr, "herald config: unknown subcommand %q: want check or defaults\nRun 'herald config --help' for usage.\n", args[0])
	return 2
}

const configCheckUsage = `Usage: herald config check FILE

Load FILE as 'herald serve --config FILE' would, defaults < FILE < HERALD_*
environment variables, and check it. Print "FILE: ok" and exit 0, or print
every problem to stderr and exit 1.
`

const configDefaultsUsage = `Usage: herald config defaults

Print the default configuration as YAML, each key preceded by what it means.
The output is a valid configuration file.
`

const configMarkdownUsage = `Usage: herald config markdown

Print the Markdown table of every configuration key for docs/configuration.md.
`

// parseSubcommand sends --help to stdout (exit 0) and usage errors to stderr
// (exit 2), which flag.FlagSet cannot do with one output.
func parseSubcommand(name, usage string, args []string, stdout, stderr io.Writer) (rest []string, code int, ok bool) {
	fs := newCLIFlags("config " + name)
	err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return nil, 0, false
	}
	if err != nil {
		return nil, usageError(stderr, fs, flagErrorText(err)), false
	}
	return fs.Args(), 0, true
}

func runConfigCheck(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	rest, code, ok := parseSubcommand("check", configCheckUsage, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "herald config check: want one FILE, got %d arguments\nRun 'herald config check --help' for usage.\n", len(rest))
		return 2
	}
	file := rest[0]
	l := newLoader()
	err := l.load(file, getenv)
	if err == nil {
		err = l.validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", file)
	return 0
}

func runConfigPrint(args []string, name, usage string, gen func() ([]byte, error), stdout, stderr io.Writer) int {
	rest, code, ok := parseSubcommand(name, usage, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "herald config %s: unexpected argument %q\nRun 'herald config %s --help' for usage.\n", name, rest[0], name)
		return 2
	}
	out, err := gen()
	if err != nil {
		fmt.Fprintf(stderr, "herald config %s: %v\n", name, err)
		return 1
	}
	stdout.Write(out)
	return 0
}

const defaultsHeader = `Herald configuration: every key at its default (herald config defaults).
Keys left out keep their defaults. Each key can also be set in the
environment as HERALD_ plus its path in upper case with _ for .
(client.ping_interval is HERALD_CLIENT_PING_INTERVAL); flags win over the
environment, which wins over this file. See docs/configuration.md.`

const namespacesExample = `Example:
  namespaces:
    chat:
      allow_publish: true
      history_size: 50
      history_ttl: 10m`

// defaultsYAML builds the YAML from the struct rather than a template, so a
// new key cannot be forgotten; the round-trip test checks it parses back.
func defaultsYAML() ([]byte, error) {
	doc := &yaml.Node{
		Kind:        yaml.DocumentNode,
		HeadComment: defaultsHeader,
		Content:     []*yaml.Node{mappingNode(reflect.ValueOf(defaultConfig()), 0)},
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	return b.Bytes(), nil
}

func mappingNode(v reflect.Value, depth int) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		comment := f.Tag.Get("doc")
		if f.Type.Kind() == reflect.Map {
			comment += "\n" + namespacesExample
		}
		comment = wrapText(comment, 78-2*depth)
		if depth == 0 && (isSection(f.Type) || f.Type.Kind() == reflect.Map) {
			comment = "\n" + comment // a blank line between top-level sections
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Value: yamlName(f), HeadComment: comment}
		m.Content = append(m.Content, key, valueNode(v.Field(i), depth+1))
	}
	return m
}

func valueNode(v reflect.Value, depth int) *yaml.Node {
	switch {
	case isSection(v.Type()):
		return mappingNode(v, depth)
	case v.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := range v.Len() {
			n.Content = append(n.Content, valueNode(v.Index(i), depth))
		}
		return n
	case v.Kind() == reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		if v.Len() == 0 {
			n.Style = yaml.FlowStyle
		}
		var keys []string
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, valueNode(v.MapIndex(reflect.ValueOf(k)), depth+1))
		}
		return n
	case v.Kind() == reflect.String:
		// The !!str tag makes the encoder quote what would read back as
		// something else: "", "*", "true".
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.String()}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: valueText(v)}
}

// wrapText wraps each paragraph (line) of s at width, for comments that
// stay readable in an 80-column terminal.
func wrapText(s string, width int) string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		indent := para[:len(para)-len(strings.TrimLeft(para, " "))]
		line := indent
		for _, word := range strings.Fields(para) {
			if len(line) > len(indent) && len(line)+1+len(word) > width {
				out = append(out, line)
				line = indent
			}
			if len(line) > len(indent) {
				line += " "
			}
			line += word
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// configMarkdown is the table of docs/configuration.md. It lists the
// options of one namespace too, since HERALD_NAMESPACES and the file take
// them, although no single environment variable sets them.
func configMarkdown() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("| key | environment variable | type | default | description |\n|---|---|---|---|---|\n")
	defaults := reflect.ValueOf(defaultConfig())
	for _, k := range configKeys() {
		row(&b, k.path, "`"+envName(k.path)+"`", k.field.Type, defaults.FieldByIndex(k.index), k.field.Tag.Get("doc"))
		if k.field.Type.Kind() != reflect.Map {
			continue
		}
		ns := reflect.ValueOf(defaultConfig().Channel)
		for i := range ns.NumField() {
			f := ns.Type().Field(i)
			row(&b, k.path+".NAME."+yamlName(f), "in `"+envName(k.path)+"`", f.Type, ns.Field(i), f.Tag.Get("doc"))
		}
	}
	return b.Bytes(), nil
}

func row(b *bytes.Buffer, path, env string, t reflect.Type, def reflect.Value, doc string) {
	cells := []string{"`" + path + "`", env, docTypeName(t), docDefault(def), doc}
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
}

func docTypeName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Size]():
		return "size"
	case reflect.TypeFor[Duration]():
		return "duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int:
		return "int"
	case reflect.Slice:
		return "list of strings"
	case reflect.Map:
		return "map of namespace name to options"
	}
	return t.String()
}

func docDefault(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return "none"
		}
	case reflect.String:
		if v.Len() == 0 {
			return "empty"
		}
	}
	return "`" + valueText(v) + "`"
}
