package main

import (
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// keyError is one problem with one configuration key. It carries where the
// value came from so a user with a file, an environment and flags can tell
// which of the three to fix.
type keyError struct {
	source string // "config herald.yaml", "env HERALD_LISTEN", "flag --listen"; empty for defaults
	line   int    // line in the file, 0 when there is none
	path   string // "client.ping_interval", "websocket.origins[1]"
	msg    string
}

func (e *keyError) Error() string {
	var b strings.Builder
	if e.source != "" {
		b.WriteString(e.source + ": ")
	}
	if e.line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.line)
	}
	if e.path != "" {
		b.WriteString(e.path + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

// namespaceName is the rule for namespace names; the hub splits channel
// names on ':' and looks the prefix up, so anything else could never match.
var namespaceName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

const badNamespaceName = "namespace name must be 1 to 64 characters from a-z, A-Z, 0-9, _ and -"

// nodeDecoder walks a yaml.Node into a Config by hand instead of using
// yaml.v3's decoder, because yaml.v3's errors name neither the key path nor
// the keys that would have been accepted.
type nodeDecoder struct {
	source  string
	origins map[string]origin // every key seen, for locating validation errors
	noLines bool              // the YAML is an environment variable's value: its lines mean nothing
	errs    []error
}

func (d *nodeDecoder) at(n *yaml.Node) origin {
	if d.noLines {
		return origin{source: d.source}
	}
	return origin{source: d.source, line: n.Line}
}

func (d *nodeDecoder) fail(n *yaml.Node, path, format string, args ...any) {
	o := d.at(n)
	d.errs = append(d.errs, &keyError{source: o.source, line: o.line, path: path, msg: fmt.Sprintf(format, args...)})
}

func (d *nodeDecoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if _, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		d.scalar(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.namespaces(n, v, path)
	case reflect.Slice:
		d.list(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// structure decodes a mapping onto the existing value, so keys the file
// leaves out keep their defaults.
func (d *nodeDecoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of keys (%s), got %s", knownKeys(v.Type(), path), describe(n))
		return
	}
	d.eachKey(n, path, func(key, val *yaml.Node, keyPath string) {
		f, ok := fieldByYAMLName(v.Type(), key.Value)
		if !ok {
			d.fail(key, keyPath, "unknown key (%s)", knownKeys(v.Type(), path))
			return
		}
		fv := v.FieldByIndex(f.Index)
		if !isSection(fv.Type()) {
			// Sections are not origins: a default inside a section the
			// file mentions did not come from the file.
			d.origins[keyPath] = d.at(key)
		}
		d.decode(val, fv, keyPath)
	})
}

// namespaces replaces the map: each namespace starts from the defaults of
// channel options, not from another source's entry of the same name, so a
// namespace reads the same whichever source defined it.
func (d *nodeDecoder) namespaces(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of namespace names to options, got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	d.eachKey(n, path, func(key, val *yaml.Node, keyPath string) {
		if !namespaceName.MatchString(key.Value) {
			d.fail(key, keyPath, "%s", badNamespaceName)
			return
		}
		d.origins[keyPath] = d.at(key)
		ns := reflect.New(v.Type().Elem()).Elem()
		ns.Set(reflect.ValueOf(defaultConfig().Channel))
		d.decode(val, ns, keyPath)
		m.SetMapIndex(reflect.ValueOf(key.Value), ns)
	})
	if m.Len() == 0 {
		// nil, so an empty mapping compares equal to the defaults.
		m = reflect.Zero(v.Type())
	}
	v.Set(m)
}

// eachKey calls fn for each key of a mapping, refusing the duplicates
// yaml.v3 lets through when decoding to a Node.
func (d *nodeDecoder) eachKey(n *yaml.Node, path string, fn func(key, val *yaml.Node, keyPath string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		keyPath := joinPath(path, key.Value)
		if key.Kind != yaml.ScalarNode {
			d.fail(key, path, "expected a key name, got %s", describe(key))
			continue
		}
		if first, dup := seen[key.Value]; dup {
			d.fail(key, keyPath, "duplicate key (first at line %d)", first)
			continue
		}
		seen[key.Value] = key.Line
		fn(key, val, keyPath)
	}
}

func (d *nodeDecoder) list(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list like [a, b], got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.scalar(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	if s.Len() == 0 {
		s = reflect.Zero(v.Type())
	}
	v.Set(s)
}

func (d *nodeDecoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected %s, got %s", typeName(v.Type()), describe(n))
		return
	}
	if isNull(n) && v.Kind() != reflect.String {
		d.fail(n, path, "expected %s, got nothing", typeName(v.Type()))
		return
	}
	text := n.Value
	if isNull(n) {
		text = ""
	}
	if err := setText(v, text); err != nil {
		d.fail(n, path, "%v", err)
	}
}

// setText parses the text form shared by YAML scalars and environment
// variables. Its errors are sentences meant to follow a key path.
func setText(v reflect.Value, text string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(text))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		// Only true and false: YAML 1.1's yes/on would mean true to some
		// readers and a string to others.
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return fmt.Errorf("expected true or false, got %q", text)
		}
	case reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("expected an integer, got %q", text)
		}
		v.SetInt(n)
	default:
		return fmt.Errorf("cannot set a %s from text", v.Type())
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if isNull(n) {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

// typeName is how messages and docs name a Go type.
func typeName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Size]():
		return "a size"
	case reflect.TypeFor[Duration]():
		return "a duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "an integer"
	case reflect.Slice:
		return "a list"
	}
	return "a mapping"
}

func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func knownKeys(t reflect.Type, path string) string {
	var names []string
	for i := range t.NumField() {
		names = append(names, yamlName(t.Field(i)))
	}
	slices.Sort(names)
	if path == "" {
		return "known keys: " + strings.Join(names, ", ")
	}
	return "known keys under " + path + ": " + strings.Join(names, ", ")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
