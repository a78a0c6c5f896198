package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestConfigCheckAsServe: every configuration serve refuses when it builds
// the token verifier and the hooks client, `config check` refuses too, and
// both say which file line or variable to fix. The serve half runs the
// binary, as an operator would.
func TestConfigCheckAsServe(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"leeway over the maximum", "token:\n  hmac_secret: " + secret + "\n  leeway: 10m\n", nil,
			"config FILE: line 3: token.leeway: 10m0s is more than 5m0s"},
		{"public key that is not PEM", "token:\n  public_key: \"not a pem\"\n", nil,
			"config FILE: line 2: token.public_key: not a PEM block"},
		{"algorithm without its key", "token:\n  hmac_secret: " + secret + "\n", map[string]string{"HERALD_TOKEN_ALGORITHMS": "RS256"},
			"env HERALD_TOKEN_ALGORITHMS: token.algorithms: RS256 has no configured key"},
		{"missing public key file", "token:\n  public_key_file: /nonexistent/key.pem\n", nil,
			"config FILE: line 2: token.public_key_file: open /nonexistent/key.pem"},
		{"hook URL with a fragment", "hooks:\n  connect_url: \"http://127.0.0.1:1/connect#x\"\n", nil,
			"config FILE: line 2: hooks.connect_url: \"http://127.0.0.1:1/connect#x\" has a #fragment"},
		{"hook header Herald sets", "hooks:\n  connect_url: http://127.0.0.1:1/connect\n  headers: [\"Host: x\"]\n", nil,
			"config FILE: line 3: hooks.headers: Host is set by Herald itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeConfigFile(t, tt.file)
			want := strings.ReplaceAll(tt.want, "FILE", file)

			var stdout, stderr bytes.Buffer
			if code := runConfig([]string{"check", file}, configEnv(tt.env), &stdout, &stderr); code != 1 {
				t.Fatalf("config check: exit %d, want 1\nstdout: %s\nstderr: %s", code, &stdout, &stderr)
			}
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("config check said %q, want it to contain %q", &stderr, want)
			}

			var env []string
			for k, v := range tt.env {
				env = append(env, k+"="+v)
			}
			_, serveErr, code := runHerald(t, env, "", "serve", "--config", file, "--listen", "127.0.0.1:0")
			if code != 2 {
				t.Fatalf("serve: exit %d, want 2\nstderr: %s", code, serveErr)
			}
			if !strings.Contains(serveErr, want) {
				t.Errorf("serve said %q, want it to contain %q", serveErr, want)
			}
		})
	}
}
