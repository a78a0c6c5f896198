package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var updateConfigDocs = flag.Bool("update-config-docs", false, "rewrite the generated table in docs/configuration.md")

// configEnv is a getenv backed by a map, so tests never see the real environment.
func configEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeConfigFile(t *testing.T, text string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestConfigPrecedence(t *testing.T) {
	file := `
listen: 127.0.0.1:1001
api_key: from-file
log:
  level: debug
client:
  max_errors: 5
namespaces:
  chat: {allow_publish: true}
`
	tests := []struct {
		name  string
		file  bool
		env   map[string]string
		flags []string
		check func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, defaultConfig()) {
				t.Errorf("got %+v, want the defaults", c)
			}
		}},
		{name: "file over defaults", file: true, check: func(t *testing.T, c Config) {
			equal(t, "listen", c.Listen, "127.0.0.1:1001")
			equal(t, "log.level", c.Log.Level, "debug")
			equal(t, "log.format (not in file)", c.Log.Format, "text")
			equal(t, "client.max_errors", c.Client.MaxErrors, 5)
			equal(t, "client.channel_limit (not in file)", c.Client.ChannelLimit, 128)
			equal(t, "namespaces.chat", c.Namespaces["chat"], NamespaceConfig{AllowPublish: true, MaxChannelLength: 255, SubscribeAccess: "anyone", PublishAccess: "anyone", HistoryAccess: "subscriber", PresenceAccess: "subscriber"})
		}},
		{name: "env over file", file: true, env: map[string]string{
			"HERALD_LISTEN":            "127.0.0.1:1002",
			"HERALD_CLIENT_MAX_ERRORS": "6",
			"HERALD_NAMESPACES":        `{"news":{"history_size":10,"history_ttl":"1m"}}`,
		}, check: func(t *testing.T, c Config) {
			equal(t, "listen", c.Listen, "127.0.0.1:1002")
			equal(t, "api_key (file only)", c.APIKey, "from-file")
			equal(t, "client.max_errors", c.Client.MaxErrors, 6)
			equal(t, "namespaces", c.Namespaces, map[string]NamespaceConfig{
				"news": {MaxChannelLength: 255, HistorySize: 10, HistoryTTL: Duration(time.Minute), SubscribeAccess: "anyone", PublishAccess: "anyone", HistoryAccess: "subscriber", PresenceAccess: "subscriber"},
			})
		}},
		{name: "flags over env", file: true, env: map[string]string{
			"HERALD_LISTEN":     "127.0.0.1:1002",
			"HERALD_API_KEY":    "from-env",
			"HERALD_DEV":        "true",
			"HERALD_LOG_FORMAT": "json",
		}, flags: []string{"--listen", "127.0.0.1:1003", "--dev=false", "--log-level", "warn"}, check: func(t *testing.T, c Config) {
			equal(t, "listen", c.Listen, "127.0.0.1:1003")
			equal(t, "api_key (env, no flag)", c.APIKey, "from-env")
			equal(t, "dev", c.Dev, false)
			equal(t, "log.level", c.Log.Level, "warn")
			equal(t, "log.format (env, no flag)", c.Log.Format, "json")
		}},
		{name: "flags over defaults", flags: []string{"-api-key=k", "--dev", "--log-format", "json"}, check: func(t *testing.T, c Config) {
			equal(t, "api_key", c.APIKey, "k")
			equal(t, "dev", c.Dev, true)
			equal(t, "log.format", c.Log.Format, "json")
			equal(t, "listen (flag default is not applied)", c.Listen, "127.0.0.1:8000")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.flags
			if tt.file {
				args = append([]string{"--config", writeConfigFile(t, file)}, args...)
			}
			var out bytes.Buffer
			c, err := loadServeConfig(args, configEnv(tt.env), &out)
			if err != nil {
				t.Fatalf("loadServeConfig: %v\noutput: %s", err, out.String())
			}
			tt.check(t, c)
		})
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestConfigTypes sets each key type through the file and through the
// environment, well and badly.
func TestConfigTypes(t *testing.T) {
	tests := []struct {
		path    string
		yaml    string // value as written in the file
		env     string // value of the variable; "-" to skip
		want    any    // the field's value, when err is empty
		wantErr string
	}{
		{"listen", "0.0.0.0:9000", "0.0.0.0:9000", "0.0.0.0:9000", ""},
		{"api_key", `""`, "", "", ""},
		{"api_key", "123", "123", "123", ""},
		{"listen", "{a: b}", "-", nil, `listen: expected a string, got a mapping`},
		{"dev", "true", "true", true, ""},
		{"dev", "false", "FALSE", false, ""},
		{"dev", "yes", "yes", nil, `dev: expected true or false, got "yes"`},
		{"dev", "", "1", nil, `dev: expected true or false, got`},
		{"client.channel_limit", "64", "64", 64, ""},
		{"client.channel_limit", "-3", "-3", -3, ""},
		{"client.channel_limit", "many", "many", nil, `client.channel_limit: expected an integer, got "many"`},
		{"client.channel_limit", "1.5", "1.5", nil, `client.channel_limit: expected an integer, got "1.5"`},
		{"client.channel_limit", "[1]", "-", nil, `client.channel_limit: expected an integer, got a list`},
		{"websocket.max_message_size", "65536", "65536", Size(65536), ""},
		{"websocket.max_message_size", "64KB", "64KB", Size(64 << 10), ""},
		{"websocket.max_message_size", "64KiB", "64kib", Size(64 << 10), ""},
		{"websocket.max_message_size", "1MB", "1MB", Size(1 << 20), ""},
		{"websocket.max_message_size", "1MiB", "1 MiB", Size(1 << 20), ""},
		{"websocket.max_message_size", "2GiB", "2GB", Size(2 << 30), ""},
		{"websocket.max_message_size", "big", "big", nil, `websocket.max_message_size: expected a size like 65536, 64KB or 1MiB, got "big"`},
		{"websocket.max_message_size", "64TB", "64TB", nil, `expected a size like 65536, 64KB or 1MiB, got "64TB"`},
		{"websocket.max_message_size", "-1", "-1", nil, `expected a size like 65536, 64KB or 1MiB, got "-1"`},
		{"websocket.max_message_size", "1.5MB", "1.5MB", nil, `expected a size like`},
		{"websocket.max_message_size", "99999999999999999999", "-", nil, `websocket.max_message_size: size "99999999999999999999" is too large`},
		{"client.ping_interval", "1m30s", "1m30s", Duration(90 * time.Second), ""},
		{"client.ping_interval", "500ms", "500ms", Duration(500 * time.Millisecond), ""},
		{"client.ping_interval", "fast", "fast", nil, `client.ping_interval: expected a duration like 25s or 1m30s, got "fast"`},
		{"client.ping_interval", "25", "25", nil, `client.ping_interval: expected a duration like 25s or 1m30s, got "25"`},
		{"websocket.origins", "[a.example.com, '*.example.com']", "a.example.com, *.example.com", []string{"a.example.com", "*.example.com"}, ""},
		{"websocket.origins", "[]", "", []string(nil), ""},
		{"websocket.origins", "a.example.com", "-", nil, `websocket.origins: expected a list like [a, b], got "a.example.com"`},
		{"websocket.origins", "[ok, {a: b}]", "-", nil, `websocket.origins[1]: expected a string, got a mapping`},
		{"namespaces", "{chat: {allow_publish: true}}", `{"chat":{"allow_publish":true}}`, map[string]NamespaceConfig{"chat": {AllowPublish: true, MaxChannelLength: 255, SubscribeAccess: "anyone", PublishAccess: "anyone", HistoryAccess: "subscriber", PresenceAccess: "subscriber"}}, ""},
		{"namespaces", "{}", "", map[string]NamespaceConfig(nil), ""},
		{"namespaces", "[chat]", "[chat]", nil, `namespaces: expected a mapping of namespace names to options, got a list`},
		{"namespaces", "{chat: {history_ttl: soon}}", `{"chat":{"history_ttl":"soon"}}`, nil, `namespaces.chat.history_ttl: expected a duration like 25s or 1m30s, got "soon"`},
		{"namespaces", "{'a b': {}}", `{"a b":{}}`, nil, `namespaces.a b: namespace name must be 1 to 64 characters`},
		{"namespaces", "{" + strings.Repeat("n", 65) + ": {}}", "-", nil, `namespace name must be 1 to 64`},
		{"namespaces", "-", `{"chat": [`, nil, `env HERALD_NAMESPACES: namespaces: expected YAML or JSON like`},
	}
	for _, tt := range tests {
		k, ok := keyByPath(tt.path)
		if !ok {
			t.Fatalf("no key %s", tt.path)
		}
		if tt.yaml != "-" {
			t.Run("file/"+tt.path+"="+tt.yaml, func(t *testing.T) {
				l := newLoader()
				err := l.parse("config herald.yaml", []byte(nestYAML(tt.path, tt.yaml)))
				checkTypeResult(t, l, k, err, tt.want, tt.wantErr, "config herald.yaml: line ")
			})
		}
		if tt.env != "-" {
			t.Run("env/"+tt.path+"="+tt.env, func(t *testing.T) {
				l := newLoader()
				name := envName(tt.path)
				err := l.env(configEnv(map[string]string{name: tt.env}))
				checkTypeResult(t, l, k, err, tt.want, tt.wantErr, "env "+name+": ")
			})
		}
	}
}

// nestYAML writes "a.b: v" as the nested mapping a file would hold.
func nestYAML(path, value string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat("  ", i) + p + ":")
		if i < len(parts)-1 {
			b.WriteString("\n")
		}
	}
	return b.String() + " " + value + "\n"
}

func checkTypeResult(t *testing.T, l *loader, k configKey, err error, want any, wantErr, wantPrefix string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("no error, want %q", wantErr)
		}
		if !strings.Contains(err.Error(), wantErr) || !strings.HasPrefix(err.Error(), wantPrefix) {
			t.Fatalf("error %q, want it to start with %q and contain %q", err, wantPrefix, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	got := reflect.ValueOf(l.cfg).FieldByIndex(k.index).Interface()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", k.path, got, want)
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string // each must be one whole line of the error
	}{
		{"unknown key in a section", "log:\n  level: info\n\nwebsocket:\n  max_mesage_size: 1MB\n", []string{
			"config herald.yaml: line 5: websocket.max_mesage_size: unknown key (known keys under websocket: compression, compression_threshold, engine, hosts, max_message_size, origins, read_buffer_size, write_timeout)",
		}},
		{"unknown top-level key", "lisen: :80\n", []string{
			"config herald.yaml: line 1: lisen: unknown key (known keys: admin, admission, api, api_key, broker, channel, client, debug, dev, hooks, listen, log, name, namespaces, redis, shutdown, tls, token, websocket)",
		}},
		{"unknown key in channel", "channel:\n  allow_publsh: true\n", []string{
			"config herald.yaml: line 2: channel.allow_publsh: unknown key (known keys under channel: allow_publish, history_access, history_http, history_size, history_ttl, join_leave, max_channel_length, presence, presence_access, publish_access, subscribe_access)",
		}},
		{"unknown key in a namespace", "namespaces:\n  chat:\n    history: 10\n", []string{
			"config herald.yaml: line 3: namespaces.chat.history: unknown key (known keys under namespaces.chat: allow_publish, history_access, history_http, history_size, history_ttl, join_leave, max_channel_length, presence, presence_access, publish_access, subscribe_access)",
		}},
		{"several at once", "client:\n  ping_interval: fast\n  max_errors: x\nbogus: 1\n", []string{
			`config herald.yaml: line 2: client.ping_interval: expected a duration like 25s or 1m30s, got "fast"`,
			`config herald.yaml: line 3: client.max_errors: expected an integer, got "x"`,
			`config herald.yaml: line 4: bogus: unknown key`,
		}},
		{"section given a value", "log: debug\n", []string{
			`config herald.yaml: line 1: log: expected a mapping of keys (known keys under log: format, level), got "debug"`,
		}},
		{"duplicate key", "listen: :1\nlisten: :2\n", []string{
			"config herald.yaml: line 2: listen: duplicate key (first at line 1)",
		}},
		{"not a mapping", "- a\n- b\n", []string{
			"config herald.yaml: line 1: expected a mapping of keys",
		}},
		{"bad YAML", "log:\n  level: [\n", []string{"config herald.yaml: line "}},
		{"two documents", "listen: :1\n---\nlisten: :2\n", []string{"config herald.yaml: only one YAML document is allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newLoader().parse("config herald.yaml", []byte(tt.file))
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				if !hasLinePrefix(lines, w) {
					t.Errorf("error lacks line %q; got:\n%v", w, err)
				}
			}
		})
	}
}

func hasLinePrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestConfigEmptyFileIsDefaults(t *testing.T) {
	for _, text := range []string{"", "# only a comment\n", "log:\n"} {
		c, err := loadServeConfig([]string{"--config", writeConfigFile(t, text)}, configEnv(nil), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !reflect.DeepEqual(c, defaultConfig()) {
			t.Errorf("%q: got %+v, want the defaults", text, c)
		}
	}
}

func TestConfigEveryKeyHasEnv(t *testing.T) {
	keys := configKeys()
	if len(keys) < 25 {
		t.Fatalf("only %d keys found; the reflection walk lost some", len(keys))
	}
	for _, k := range keys {
		if k.field.Tag.Get("doc") == "" {
			t.Errorf("%s has no doc tag", k.path)
		}
		// "[garbage" is a fine string and list, and an error for every
		// other type: either way, each variable is proved to be looked up.
		l := newLoader()
		err := l.env(configEnv(map[string]string{envName(k.path): "[garbage"}))
		if kind := k.field.Type.Kind(); kind == reflect.String || kind == reflect.Slice {
			got := reflect.ValueOf(l.cfg).FieldByIndex(k.index)
			if err != nil || fmt.Sprint(got) != "[garbage" && fmt.Sprint(got) != "[[garbage]" {
				t.Errorf("%s: got %v, %v; want it set to [garbage", envName(k.path), got, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "env "+envName(k.path)+": "+k.path) {
			t.Errorf("%s: error %v, want one naming the variable and the key", envName(k.path), err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := defaultConfig()
	c.Listen = "localhost"
	c.Log.Level = "verbose"
	c.Log.Format = "xml"
	c.WebSocket.MaxMessageSize = 100
	c.WebSocket.Origins = []string{"ok.example.com", "", "https://a.example.com", "a.example.com/x"}
	c.Client.ChannelLimit = 0
	c.Client.QueueSize = 0
	c.Client.PingInterval = Duration(500 * time.Millisecond)
	c.Client.PongTimeout = 0
	c.Client.ConnectTimeout = 0
	c.Client.MaxErrors = 0
	c.Shutdown.Drain = Duration(time.Minute)
	c.Shutdown.ReconnectWindow = Duration(-time.Second)
	c.Channel.MaxChannelLength = 2000
	c.Channel.HistorySize = 10
	c.Namespaces = map[string]NamespaceConfig{
		"chat": {MaxChannelLength: 0, HistorySize: -1},
		"news": {MaxChannelLength: 100, HistorySize: 5},
		"ok":   {MaxChannelLength: 100, HistorySize: 5, HistoryTTL: Duration(time.Minute), HistoryHTTP: true},
		"web":  {MaxChannelLength: 100, HistoryHTTP: true},
	}
	err := c.validate()
	if err == nil {
		t.Fatal("no error")
	}
	wantPaths := []string{
		"listen", "log.level", "log.format", "websocket.max_message_size",
		"websocket.origins[1]", "websocket.origins[2]", "websocket.origins[3]",
		"client.channel_limit", "client.queue_size", "client.ping_interval", "client.pong_timeout",
		"client.connect_timeout", "client.max_errors", "shutdown.reconnect_window", "shutdown.drain",
		"channel.max_channel_length", "channel.history_ttl",
		"namespaces.chat.max_channel_length", "namespaces.chat.history_size", "namespaces.news.history_ttl",
		"namespaces.web.history_http",
	}
	var gotPaths []string
	for _, e := range unwrapAll(err) {
		var ke *keyError
		if !errors.As(e, &ke) {
			t.Fatalf("%v is not a *keyError", e)
		}
		gotPaths = append(gotPaths, ke.path)
	}
	if !reflect.DeepEqual(gotPaths, wantPaths) {
		t.Errorf("problems at\n%q\nwant\n%q\nerror:\n%v", gotPaths, wantPaths, err)
	}
	if c := defaultConfig(); c.validate() != nil {
		t.Errorf("defaults are invalid: %v", c.validate())
	}
}

func TestConfigValidateGood(t *testing.T) {
	tests := []func(c *Config){
		func(c *Config) { c.Listen = ":0" },
		func(c *Config) { c.Listen = "[::1]:8000" },
		func(c *Config) { c.WebSocket.Origins = []string{"*", "*.example.com", "localhost:3000"} },
		func(c *Config) { c.Client.PongTimeout = Duration(time.Minute) }, // more than ping_interval is allowed
		func(c *Config) { c.Client.QueueSize = 1 },                       // less than max_message_size is allowed
		func(c *Config) { c.Shutdown.Drain = 0 },
		func(c *Config) { c.Channel.HistoryTTL = Duration(time.Minute) }, // a TTL without history is harmless
	}
	for i, change := range tests {
		c := defaultConfig()
		change(&c)
		if err := c.validate(); err != nil {
			t.Errorf("%d: %v", i, err)
		}
	}
}

// TestConfigValidateLocates checks that a semantic error points at the
// source of the bad value, not just the key.
func TestConfigValidateLocates(t *testing.T) {
	file := writeConfigFile(t, "client:\n  ping_interval: 500ms\nnamespaces:\n  chat:\n    history_size: 5\n")
	env := configEnv(map[string]string{"HERALD_LOG_LEVEL": "verbose", "HERALD_WEBSOCKET_ORIGINS": "ok,https://x"})
	_, err := loadServeConfig([]string{"--config", file, "--listen", "nohost"}, env, &bytes.Buffer{})
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"flag --listen: listen: must be host:port",
		`env HERALD_LOG_LEVEL: log.level: must be debug, info, warn or error, got "verbose"`,
		`env HERALD_WEBSOCKET_ORIGINS: websocket.origins[1]: must be a host pattern`,
		"config " + file + ": line 2: client.ping_interval: must be at least 1s, got 500ms",
		"config " + file + ": line 4: namespaces.chat.history_ttl: must be set",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for _, w := range want {
		if !hasLinePrefix(lines, w) {
			t.Errorf("error lacks line %q; got:\n%v", w, err)
		}
	}
}

func TestConfigServeArgs(t *testing.T) {
	for _, help := range []string{"--help", "-h"} {
		var out bytes.Buffer
		_, err := loadServeConfig([]string{help}, configEnv(nil), &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s: error %v, want flag.ErrHelp", help, err)
		}
		for _, want := range []string{"herald serve", "--listen ADDR", "--api-key KEY", "--config FILE", "--dev", "--log-level", "--log-format", "(default 127.0.0.1:8000)", "HERALD_", "herald config defaults", "docs/configuration.md"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s: usage lacks %q:\n%s", help, want, &out)
			}
		}
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--listen", ":1", "extra"}, `unexpected argument "extra"`},
		{[]string{"--nope"}, "unknown flag --nope"},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, "config: open "},
	}
	for _, tt := range tests {
		_, err := loadServeConfig(tt.args, configEnv(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestConfigCommand(t *testing.T) {
	good := writeConfigFile(t, "listen: :9000\n")
	bad := writeConfigFile(t, "listen: nohost\nclient:\n  max_errors: 0\n")
	tests := []struct {
		args           []string
		env            map[string]string
		code           int
		stdout, stderr string
		stdoutNot      string
	}{
		{args: []string{"check", good}, code: 0, stdout: good + ": ok\n"},
		{args: []string{"check", good}, env: map[string]string{"HERALD_CLIENT_MAX_ERRORS": "0"}, code: 1, stderr: "env HERALD_CLIENT_MAX_ERRORS: client.max_errors: must be at least 1"},
		{args: []string{"check", bad}, code: 1, stderr: "line 1: listen: must be host:port", stdoutNot: "ok"},
		{args: []string{"check", bad}, code: 1, stderr: "line 3: client.max_errors: must be at least 1"},
		{args: []string{"check", filepath.Join(t.TempDir(), "none.yaml")}, code: 1, stderr: "no such file"},
		{args: []string{"check"}, code: 2, stderr: "want one FILE"},
		{args: []string{"check", "a", "b"}, code: 2, stderr: "want one FILE"},
		{args: []string{"check", "--help"}, code: 0, stdout: "Usage: herald config check FILE"},
		{args: []string{"defaults", "--help"}, code: 0, stdout: "Usage: herald config defaults"},
		{args: []string{"defaults", "x"}, code: 2, stderr: `unexpected argument "x"`},
		{args: []string{"defaults", "--x"}, code: 2, stderr: "unknown flag --x"},
		{args: []string{"check", good, "--help"}, code: 0, stdout: "Usage: herald config check FILE"},
		{args: []string{"defaults"}, code: 0, stdout: "ping_interval: 25s"},
		{args: []string{"markdown"}, code: 0, stdout: "| `client.ping_interval` | `HERALD_CLIENT_PING_INTERVAL` | duration | `25s` |"},
		{args: []string{"--help"}, code: 0, stdout: "herald config check FILE", stdoutNot: "markdown"},
		{args: nil, code: 2, stderr: "herald config defaults"},
		{args: []string{"nope"}, code: 2, stderr: `unknown subcommand "nope"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := runConfig(tt.args, configEnv(tt.env), &stdout, &stderr)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d; stderr: %s", tt.args, code, tt.code, &stderr)
		}
		if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("%q: stdout %q, stderr %q; want them to contain %q, %q", tt.args, &stdout, &stderr, tt.stdout, tt.stderr)
		}
		if tt.stdoutNot != "" && strings.Contains(stdout.String(), tt.stdoutNot) {
			t.Errorf("%q: stdout %q contains %q", tt.args, &stdout, tt.stdoutNot)
		}
	}
}

// TestConfigDefaultsRoundTrip checks that `config defaults` prints a file
// that `config check` accepts and that loads as exactly the defaults.
func TestConfigDefaultsRoundTrip(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runConfig([]string{"defaults"}, configEnv(nil), &out, &errOut); code != 0 {
		t.Fatalf("config defaults: exit %d: %s", code, &errOut)
	}
	for _, k := range configKeys() {
		doc := strings.Fields(k.field.Tag.Get("doc"))[0]
		if !strings.Contains(out.String(), "# "+doc) {
			t.Errorf("defaults lack the doc of %s", k.path)
		}
	}
	file := writeConfigFile(t, out.String())
	var checkOut bytes.Buffer
	if code := runConfig([]string{"check", file}, configEnv(nil), &checkOut, &errOut); code != 0 {
		t.Fatalf("config check of the defaults: exit %d: %s\n%s", code, &errOut, &out)
	}
	c, err := loadServeConfig([]string{"--config", file}, configEnv(nil), &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, defaultConfig()) {
		t.Errorf("defaults loaded back as\n%+v\nwant\n%+v", c, defaultConfig())
	}
}

func TestConfigDocsTable(t *testing.T) {
	const (
		name  = "../../docs/configuration.md"
		begin = "<!-- config:begin"
		end   = "<!-- config:end -->"
	)
	doc, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	table, err := configMarkdown()
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q ... %q markers", name, begin, end)
	}
	i += strings.Index(text[i:], "-->") + len("-->\n")
	want := "\n" + string(table) + "\n"
	if text[i:j] == want {
		return
	}
	if *updateConfigDocs {
		if err := os.WriteFile(name, []byte(text[:i]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/configuration.md's option table differs from the Config struct; regenerate it with\n" +
		"  go test ./cmd/herald -run TestConfigDocsTable -update-config-docs\n" +
		"(or paste the output of `go run ./cmd/herald config markdown` between the markers)")
}

func TestConfigSizeText(t *testing.T) {
	for _, tt := range []struct {
		size Size
		text string
	}{{0, "0"}, {512, "512"}, {1 << 10, "1KiB"}, {1536, "1536"}, {64 << 10, "64KiB"}, {1 << 20, "1MiB"}, {3 << 30, "3GiB"}} {
		got, _ := tt.size.MarshalText()
		if string(got) != tt.text {
			t.Errorf("%d: %q, want %q", tt.size, got, tt.text)
		}
		var back Size
		if err := back.UnmarshalText(got); err != nil || back != tt.size {
			t.Errorf("%q parsed back as %d, %v", got, back, err)
		}
	}
}

func TestConfigDurationText(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		text string
	}{{0, "0s"}, {25 * time.Second, "25s"}, {5 * time.Minute, "5m"}, {90 * time.Second, "1m30s"}, {2 * time.Hour, "2h"}, {time.Hour + time.Minute, "1h1m"}, {500 * time.Millisecond, "500ms"}} {
		got, _ := Duration(tt.d).MarshalText()
		if string(got) != tt.text {
			t.Errorf("%v: %q, want %q", tt.d, got, tt.text)
		}
		var back Duration
		if err := back.UnmarshalText(got); err != nil || time.Duration(back) != tt.d {
			t.Errorf("%q parsed back as %v, %v", got, back, err)
		}
	}
}

func FuzzConfigFile(f *testing.F) {
	f.Add([]byte("listen: :1\nnamespaces:\n  chat: {history_size: 1, history_ttl: 1m}\n"))
	f.Add([]byte("websocket: {origins: [a, '*'], max_message_size: 1MiB}\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newLoader()
		if err := l.parse("config fuzz.yaml", data); err != nil {
			return
		}
		_ = l.validate()
	})
}

func FuzzConfigSize(f *testing.F) {
	for _, s := range []string{"65536", "64KB", "1 MiB", "9223372036854775807", "8GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v Size
		if v.UnmarshalText([]byte(s)) != nil {
			return
		}
		text, _ := v.MarshalText()
		var back Size
		if err := back.UnmarshalText(text); err != nil || back != v {
			t.Fatalf("%q = %d printed as %q, parsed back as %d, %v", s, v, text, back, err)
		}
	})
}
