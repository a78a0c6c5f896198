package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

var completionCommand = &command{
	name:    "completion",
	summary: "print a shell completion script: bash, zsh or fish",
	flags:   func() *flag.FlagSet { return newCLIFlags("completion") },
}

// run is set here because it reads the command table, which holds
// completionCommand: set in the literal, that is an initialization cycle.
func init() { completionCommand.run = runCompletion }

const completionUsage = `Usage: herald completion bash|zsh|fish

Prints a script that completes herald's commands and their flags in the
given shell. It is generated from the commands themselves, so it matches
this herald binary: regenerate it after an upgrade.

Examples:
  source <(herald completion bash)            # in ~/.bashrc
  herald completion zsh > "${fpath[1]}/_herald" # then restart zsh
  herald completion fish > ~/.config/fish/completions/herald.fish

Exit status: 0 when printed, 2 on bad usage.
`

// completionShells are the shells with a generator, in the order help
// lists them.
var completionShells = []string{"bash", "zsh", "fish"}

func runCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCLIFlags("completion")
	if code, ok := parseCLIFlags(fs, args, completionUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(stderr, fs, "need one shell: bash, zsh or fish")
	}
	cmds := completionSpecs(ctx)
	var script string
	switch fs.Arg(0) {
	case "bash":
		script = bashCompletion(cmds)
	case "zsh":
		script = zshCompletion(cmds)
	case "fish":
		script = fishCompletion(cmds)
	default:
		return usageError(stderr, fs, fmt.Sprintf("unknown shell %q: want bash, zsh or fish", fs.Arg(0)))
	}
	if _, err := io.WriteString(stdout, script); err != nil {
		fmt.Fprintf(stderr, "herald completion: %v\n", err)
		return 1
	}
	return 0
}

// commandSpec is what completion knows of a command.
type commandSpec struct {
	name, summary string
	flags         []flagSpec
	// args are the words a command takes as arguments, when they are a
	// fixed set; otherwise the shell completes file names.
	args []string
}

// flagSpec is one flag: its name without dashes, the first line of its
// usage, and whether it takes a value.
type flagSpec struct {
	name, usage string
	value       bool
}

// completionSpecs describes every command of the table.
func completionSpecs(ctx context.Context) []commandSpec {
	var specs []commandSpec
	for _, c := range commands() {
		s := commandSpec{name: c.name, summary: c.summary, flags: commandFlags(ctx, c)}
		if c == completionCommand {
			s.args = completionShells
		}
		specs = append(specs, s)
	}
	return specs
}

// commandFlags lists a command's flags, sorted, with --help: from its flag
// set when it has one, from its --help otherwise.
func commandFlags(ctx context.Context, c *command) []flagSpec {
	var flags []flagSpec
	if c.flags != nil {
		c.flags().VisitAll(func(f *flag.Flag) {
			if isAlias(f) {
				return // help does not list it either: one name per flag
			}
			_, usage := flag.UnquoteUsage(f)
			b, ok := f.Value.(interface{ IsBoolFlag() bool })
			flags = append(flags, flagSpec{name: f.Name, usage: firstLine(usage), value: !ok || !b.IsBoolFlag()})
		})
	} else {
		flags = helpFlags(ctx, c)
	}
	if !containsFlag(flags, "help") {
		flags = append(flags, flagSpec{name: "help", usage: "print the command's usage"})
	}
	sort.Slice(flags, func(i, j int) bool { return flags[i].name < flags[j].name })
	return flags
}

func containsFlag(flags []flagSpec, name string) bool {
	for _, f := range flags {
		if f.name == name {
			return true
		}
	}
	return false
}

// helpFlagLine matches a flag in a "Flags:" section, as flag.PrintDefaults
// writes it ("  -since OFFSET", usage on the next line) or as serve does
// ("  --listen ADDR        address to listen on"). A value name follows
// the flag after exactly one space; the usage after two or more.
var helpFlagLine = regexp.MustCompile(`^\s+--?([A-Za-z0-9][\w.-]*)( [A-Za-z]\S*)?(?:\s{2,}|\t)?(.*)$`)

// helpFlags reads the flags of a command that parses its own from the
// "Flags:" section of its --help, which it prints on stdout or stderr.
func helpFlags(ctx context.Context, c *command) []flagSpec {
	var out bytes.Buffer
	c.run(ctx, []string{"--help"}, &out, &out)
	return parseHelpFlags(out.String())
}

func parseHelpFlags(help string) []flagSpec {
	var flags []flagSpec
	in := false
	sc := bufio.NewScanner(strings.NewReader(help))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "Flags:":
			in = true
		case !in:
		case strings.TrimSpace(line) == "":
			in = false
		case strings.HasPrefix(strings.TrimLeft(line, " "), "\t") && len(flags) > 0 && flags[len(flags)-1].usage == "":
			// PrintDefaults puts the usage on the line after the flag.
			flags[len(flags)-1].usage = strings.TrimSpace(line)
		default:
			if m := helpFlagLine.FindStringSubmatch(line); m != nil {
				flags = append(flags, flagSpec{name: m[1], value: m[2] != "", usage: strings.TrimSpace(m[3])})
			}
		}
	}
	return flags
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func flagNames(flags []flagSpec, value bool) []string {
	var names []string
	for _, f := range flags {
		if !value || f.value {
			names = append(names, f.name)
		}
	}
	return names
}

func commandNames(cmds []commandSpec) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	return strings.Join(names, " ")
}

// bashCompletion completes commands, then flags after "-", the fixed
// arguments of a command, and file names otherwise (complete -o default),
// which also covers the values of flags such as --config.
func bashCompletion(cmds []commandSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# bash completion for herald, generated by "herald completion bash" (herald %s).
# Load it with: source <(herald completion bash)
_herald() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    if (( COMP_CWORD == 1 )); then
        COMPREPLY=($(compgen -W %s -- "$cur"))
        return
    fi
    local flags= valued= args=
    case ${COMP_WORDS[1]} in
`, version, shQuote(commandNames(cmds)))
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s)\n        flags=%s\n        valued=%s\n", c.name,
			shQuote("--"+strings.Join(flagNames(c.flags, false), " --")),
			shQuote(strings.Join(flagNames(c.flags, true), " ")))
		if len(c.args) > 0 {
			fmt.Fprintf(&b, "        args=%s\n", shQuote(strings.Join(c.args, " ")))
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString(`    *)
        return
        ;;
    esac
    # Go flags take one dash or two; a flag's value completes as a file.
    local p=${prev#-}
    p=${p#-}
    if [[ $prev == -* && $prev != *=* && " $valued " == *" $p "* ]]; then
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -n $args ]]; then
        COMPREPLY=($(compgen -W "$args" -- "$cur"))
    fi
}
complete -o default -F _herald herald
`)
	return b.String()
}

// zshCompletion is a #compdef function: it works from a file named _herald
// on $fpath and when sourced.
func zshCompletion(cmds []commandSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, `#compdef herald
# zsh completion for herald, generated by "herald completion zsh" (herald %s).
# Save it as _herald in a directory on $fpath, or: source <(herald completion zsh)
_herald() {
  local -a commands
  commands=(
`, version)
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s\n", shQuote(zshEscapeColon(c.name)+":"+c.summary))
	}
	b.WriteString(`  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'herald command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "    %s)\n      _arguments -S \\\n", c.name)
		for _, f := range c.flags {
			spec := "--" + f.name
			if f.value {
				spec += "=[" + zshEscapeBrackets(f.usage) + "]:" + f.name + ":_default"
			} else {
				spec += "[" + zshEscapeBrackets(f.usage) + "]"
			}
			fmt.Fprintf(&b, "        %s \\\n", shQuote(spec))
		}
		if len(c.args) > 0 {
			fmt.Fprintf(&b, "        %s\n", shQuote("1:argument:("+strings.Join(c.args, " ")+")"))
		} else {
			fmt.Fprintf(&b, "        %s\n", shQuote("*:argument:_default"))
		}
		b.WriteString("      ;;\n")
	}
	b.WriteString(`  esac
}
if [[ $funcstack[1] == _herald ]]; then
  _herald "$@"
else
  compdef _herald herald
fi
`)
	return b.String()
}

// fishCompletion offers the commands until one is given, then its flags.
func fishCompletion(cmds []commandSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# fish completion for herald, generated by \"herald completion fish\" (herald %s).\n", version)
	b.WriteString("# Save it as ~/.config/fish/completions/herald.fish\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c herald -n __fish_use_subcommand -f -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range cmds {
		cond := fishQuote("__fish_seen_subcommand_from " + c.name)
		for _, f := range c.flags {
			req := ""
			if f.value {
				req = " -r"
			}
			fmt.Fprintf(&b, "complete -c herald -n %s -l %s%s -d %s\n", cond, f.name, req, fishQuote(f.usage))
		}
		if len(c.args) > 0 {
			fmt.Fprintf(&b, "complete -c herald -n %s -f -a %s\n", cond, fishQuote(strings.Join(c.args, " ")))
		}
	}
	return b.String()
}

// shQuote quotes s for bash and zsh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fishQuote quotes s for fish, whose single quotes escape only \ and '.
func fishQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// zshEscapeColon escapes the colon that separates a name from its
// description in _describe.
func zshEscapeColon(s string) string { return strings.ReplaceAll(s, ":", `\:`) }

// zshEscapeBrackets escapes what would end an _arguments description.
func zshEscapeBrackets(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`).Replace(s)
}
