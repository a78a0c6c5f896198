package main

import (
	"bytes"
	"encoding"
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

// serveFlag ties a flag to the configuration key it sets; key is empty for
// --config, which names the file instead.
type serveFlag struct{ name, key, arg, usage string }

// serveFlags are the only keys with flags: the ones people change per run.
// The names are fixed because scripts depend on them.
var serveFlags = []serveFlag{
	{"listen", "listen", "ADDR", "address to listen on, host:port"},
	{"api-key", "api_key", "KEY", "key for the server HTTP API (header 'Authorization: apikey KEY')"},
	{"config", "", "FILE", "YAML configuration file"},
	{"dev", "dev", "", "development mode: anonymous connections; client publish, history,\npresence and join/leave in every channel; the RPC method echo; the chat\ndemo at /; prints the API key (random unless --api-key). Insecure: never in production"},
	{"token-hmac-secret", "token.hmac_secret", "SECRET", "HMAC secret that connection tokens are signed with (HS256/384/512);\nwith it set and no --dev, anonymous connections are refused"},
	{"log-level", "log.level", "LEVEL", "debug, info, warn or error"},
	{"log-format", "log.format", "FORMAT", "text or json"},
	{"broker", "broker", "NAME", "memory (one node) or redis (many nodes sharing Redis)"},
	{"tls-cert", "tls.cert_file", "FILE", "PEM certificate (chain) to terminate TLS with; re-read on SIGHUP"},
	{"tls-key", "tls.key_file", "FILE", "PEM private key of --tls-cert"},
	{"redis-address", "redis.address", "HOST:PORT", "Redis address(es) for --broker redis; several, comma-separated,\nare shards (or cluster seeds with redis.cluster)"},
}

// loadServeConfig builds serve's configuration from defaults, the --config
// file, HERALD_* variables from getenv and flags, each overriding the one
// before, and validates it. --help output goes to w and returns
// flag.ErrHelp; flag mistakes are a *cliUsageError. Dev mode is recorded in Config.Dev, not applied.
func loadServeConfig(args []string, getenv func(string) (string, bool), w io.Writer) (Config, error) {
	fs := newCLIFlags("serve")
	var file string
	for _, f := range serveFlags {
		switch {
		case f.key == "":
			fs.StringVar(&file, f.name, "", f.usage)
		case f.key == "dev":
			fs.Bool(f.name, false, f.usage)
		default:
			fs.String(f.name, defaultText(f.key), f.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			serveUsage(w)
			return Config{}, err
		}
		return Config{}, &cliUsageError{errors.New(flagErrorText(err))}
	}
	if fs.NArg() > 0 {
		return Config{}, &cliUsageError{fmt.Errorf("unexpected argument %q: serve takes only flags", fs.Arg(0))}
	}
	l := newLoader()
	if err := l.load(file, getenv); err != nil {
		return Config{}, err
	}
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		if err := l.flag(f); err != nil {
			errs = append(errs, err)
		}
	})
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	if err := l.validate(); err != nil {
		return Config{}, err
	}
	return l.cfg, nil
}

func serveUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: herald serve [flags]

Run the Herald server: clients connect over WebSocket and subscribe to
channels; your backend publishes to them through the server HTTP API.

Flags:
`)
	for _, f := range serveFlags {
		name := "--" + f.name
		if f.arg != "" {
			name += " " + f.arg
		}
		usage := strings.ReplaceAll(f.usage, "\n", "\n"+strings.Repeat(" ", 23))
		if f.key != "" && defaultText(f.key) != "" && f.key != "dev" {
			usage += " (default " + defaultText(f.key) + ")"
		}
		fmt.Fprintf(w, "  %-20s %s\n", name, usage)
	}
	fmt.Fprint(w, `
Every key of the configuration file can also be set in the environment, as
HERALD_ plus the key's path in upper case with _ for . (client.ping_interval
is HERALD_CLIENT_PING_INTERVAL). Lists are comma-separated; HERALD_NAMESPACES
holds YAML or JSON, e.g. {"chat":{"allow_publish":true}}.
Precedence: defaults < --config file < environment < flags.

Run 'herald config defaults' for every key with its default and meaning,
'herald config check FILE' to check a file; see docs/configuration.md.
`)
}

// cliUsageError is a mistake in the command line rather than in the
// configuration it sets: it gets a pointer to --help.
type cliUsageError struct{ err error }

func (e *cliUsageError) Error() string { return e.err.Error() }
func (e *cliUsageError) Unwrap() error { return e.err }

// origin is where a key's value came from, for pointing at it in errors.
type origin struct {
	source string
	line   int
}

// loader applies the configuration sources in order, remembering where
// each value came from so a validation error can say which source to fix.
type loader struct {
	cfg     Config
	origins map[string]origin
}

func newLoader() *loader {
	return &loader{cfg: defaultConfig(), origins: map[string]origin{}}
}

// load applies the file (if any), then the environment: everything but flags,
// which is what `config check` checks.
func (l *loader) load(file string, getenv func(string) (string, bool)) error {
	if file != "" {
		if err := l.file(file); err != nil {
			return err
		}
	}
	return l.env(getenv)
}

func (l *loader) root() reflect.Value {
	return reflect.ValueOf(&l.cfg).Elem()
}

func (l *loader) file(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return l.parse("config "+name, data)
}

func (l *loader) parse(source string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil // an empty file means all defaults
		}
		return fmt.Errorf("%s: %s", source, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		return fmt.Errorf("%s: only one YAML document is allowed", source)
	}
	d := &nodeDecoder{source: source, origins: l.origins}
	d.decode(&doc, l.root(), "")
	return errors.Join(d.errs...)
}

// env looks up every key's variable rather than scanning the environment,
// because getenv cannot list; a misspelt variable is therefore ignored.
func (l *loader) env(getenv func(string) (string, bool)) error {
	var errs []error
	for _, k := range configKeys() {
		name := envName(k.path)
		text, ok := getenv(name)
		if !ok {
			continue
		}
		source := "env " + name
		l.setOrigin(k.path, origin{source: source})
		v := l.root().FieldByIndex(k.index)
		switch v.Kind() {
		case reflect.Map:
			errs = append(errs, l.envMap(v, k.path, source, text)...)
		case reflect.Slice:
			errs = append(errs, envList(v, k.path, source, text)...)
		default:
			if err := setText(v, text); err != nil {
				errs = append(errs, &keyError{source: source, path: k.path, msg: err.Error()})
			}
		}
	}
	return errors.Join(errs...)
}

func (l *loader) envMap(v reflect.Value, path, source, text string) []error {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err != nil {
		msg := "expected YAML or JSON like {\"chat\":{\"allow_publish\":true}}: " + strings.TrimPrefix(err.Error(), "yaml: ")
		return []error{&keyError{source: source, path: path, msg: msg}}
	}
	if n.Kind == 0 {
		v.SetZero()
		return nil
	}
	d := &nodeDecoder{source: source, origins: l.origins, noLines: true}
	d.decode(&n, v, path)
	return d.errs
}

func envList(v reflect.Value, path, source, text string) []error {
	if strings.TrimSpace(text) == "" {
		v.SetZero()
		return nil
	}
	parts := strings.Split(text, ",")
	s := reflect.MakeSlice(v.Type(), len(parts), len(parts))
	var errs []error
	for i, p := range parts {
		if err := setText(s.Index(i), strings.TrimSpace(p)); err != nil {
			errs = append(errs, &keyError{source: source, path: fmt.Sprintf("%s[%d]", path, i), msg: err.Error()})
		}
	}
	v.Set(s)
	return errs
}

func (l *loader) flag(f *flag.Flag) error {
	i := slices.IndexFunc(serveFlags, func(s serveFlag) bool { return s.name == f.Name })
	key := serveFlags[i].key
	if key == "" {
		return nil
	}
	k, _ := keyByPath(key)
	source := "flag --" + f.Name
	l.setOrigin(key, origin{source: source})
	v := l.root().FieldByIndex(k.index)
	if v.Kind() == reflect.Slice {
		return errors.Join(envList(v, key, source, f.Value.String())...)
	}
	if err := setText(v, f.Value.String()); err != nil {
		return &keyError{source: source, path: key, msg: err.Error()}
	}
	return nil
}

// setOrigin also forgets where the old value's parts came from, so a list
// or map replaced by a later source is not blamed on the earlier one.
func (l *loader) setOrigin(path string, o origin) {
	for p := range l.origins {
		if strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			delete(l.origins, p)
		}
	}
	l.origins[path] = o
}

// validate runs Config.validate and says where each bad value came from.
func (l *loader) validate() error {
	err := l.cfg.validate()
	if err == nil {
		return nil
	}
	var errs []error
	for _, e := range unwrapAll(err) {
		if ke, ok := e.(*keyError); ok && ke.source == "" {
			located := *ke
			o := l.originOf(ke.path)
			located.source, located.line = o.source, o.line
			e = &located
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// originOf falls back to the nearest recorded parent: a list item is blamed
// on its list, a missing namespace option on the namespace's entry.
func (l *loader) originOf(path string) origin {
	for path != "" {
		if o, ok := l.origins[path]; ok {
			return o
		}
		path = path[:max(strings.LastIndexAny(path, ".["), 0)]
	}
	return origin{}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// configKey is one leaf of Config: what a file line, an environment
// variable and a row of the docs table set. namespaces is a single leaf.
type configKey struct {
	path  string
	index []int
	field reflect.StructField
}

func configKeys() []configKey {
	return appendKeys(nil, reflect.TypeFor[Config](), "", nil)
}

func appendKeys(keys []configKey, t reflect.Type, prefix string, index []int) []configKey {
	for i := range t.NumField() {
		f := t.Field(i)
		path := joinPath(prefix, yamlName(f))
		idx := append(slices.Clone(index), i)
		if isSection(f.Type) {
			keys = appendKeys(keys, f.Type, path, idx)
			continue
		}
		keys = append(keys, configKey{path: path, index: idx, field: f})
	}
	return keys
}

// isSection reports whether a type is a group of keys rather than a value.
func isSection(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

func keyByPath(path string) (configKey, bool) {
	for _, k := range configKeys() {
		if k.path == path {
			return k, true
		}
	}
	return configKey{}, false
}

func envName(path string) string {
	return "HERALD_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// defaultText is a key's default as it would be written in the file.
func defaultText(path string) string {
	k, ok := keyByPath(path)
	if !ok {
		return ""
	}
	cfg := defaultConfig()
	v := reflect.ValueOf(cfg).FieldByIndex(k.index)
	if l, ok := v.Interface().([]string); ok {
		return strings.Join(l, ",") // as a list flag takes it
	}
	return valueText(v)
}

func valueText(v reflect.Value) string {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, _ := m.MarshalText()
		return string(b)
	}
	return fmt.Sprint(v.Interface())
}
