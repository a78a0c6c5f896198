package herald_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald"
)

func TestResolve(t *testing.T) {
	ns := herald.Namespaces{
		Default: herald.NamespaceOptions{},
		Named: map[string]herald.NamespaceOptions{
			"chat":  {AllowPublish: true, HistorySize: 10, HistoryTTL: time.Minute},
			"short": {MaxChannelLength: 10},
		},
	}
	tests := []struct {
		channel string
		code    herald.ErrorCode // 0: valid
		publish bool
	}{
		{"news", 0, false},
		{"chat:lobby", 0, true},
		{"chat:room:42", 0, true}, // the namespace is up to the first ':'
		{"chat:dm#42,43", 0, true},
		{"a-b_c.d@e=f/g+h~i!j", 0, false},
		{"short:abcd", 0, false},
		{"short:abcdefgh", herald.ErrInvalidChannel, false}, // 14 bytes > 10
		{"", herald.ErrInvalidChannel, false},
		{"nope:x", herald.ErrUnknownNamespace, false},
		{"with space", herald.ErrInvalidChannel, false},
		{"quote\"", herald.ErrInvalidChannel, false},
		{"new\nline", herald.ErrInvalidChannel, false},
		{"caf\u00e9", herald.ErrInvalidChannel, false},
		{":leading", herald.ErrUnknownNamespace, false}, // empty namespace is not configured
		{"trailing:", herald.ErrUnknownNamespace, false},
		{"chat:", herald.ErrInvalidChannel, false},
		{strings.Repeat("x", 255), 0, false},
		{strings.Repeat("x", 256), herald.ErrInvalidChannel, false},
	}
	for _, tt := range tests {
		opts, err := ns.Resolve(tt.channel)
		if tt.code == 0 {
			if err != nil {
				t.Errorf("Resolve(%q): %v", tt.channel, err)
			} else if opts.AllowPublish != tt.publish {
				t.Errorf("Resolve(%q): AllowPublish %v", tt.channel, opts.AllowPublish)
			}
			continue
		}
		var e *herald.Error
		if !errors.As(err, &e) || e.Code != tt.code {
			t.Errorf("Resolve(%q) = %v, want code %d (%s)", tt.channel, err, tt.code, tt.code.Name())
			continue
		}
		if len(e.Message) > 300 {
			t.Errorf("Resolve(%q): message too long to be read: %d bytes", tt.channel, len(e.Message))
		}
	}
}

func TestAnyNamespace(t *testing.T) {
	ns := herald.Namespaces{Default: herald.NamespaceOptions{AllowPublish: true}, AnyNamespace: true}
	opts, err := ns.Resolve("whatever:room")
	if err != nil || !opts.AllowPublish {
		t.Fatalf("Resolve = %+v, %v", opts, err)
	}
}

func TestCatalog(t *testing.T) {
	if herald.ErrPermissionDenied.Name() != "permission_denied" || herald.ErrPermissionDenied.HTTPStatus() != 403 {
		t.Fatal("catalog entry for permission_denied")
	}
	if !herald.ErrUnavailable.Temporary() || herald.ErrBadRequest.Temporary() {
		t.Fatal("temporary flags")
	}
	if herald.ErrorCode(9999).Name() != "internal" {
		t.Fatal("an unknown code must read as internal")
	}
	if c := herald.ErrorCode(1001); c.Name() != "application" || c.Temporary() || c.HTTPStatus() != 400 {
		t.Fatalf("application code 1001: %s temporary=%v http=%d", c.Name(), c.Temporary(), c.HTTPStatus())
	}
	for _, d := range herald.Disconnects {
		got, ok := herald.DisconnectByCode(d.Code)
		if !ok || got != d {
			t.Fatalf("DisconnectByCode(%d) = %v", d.Code, got)
		}
	}
	if !herald.DisconnectShutdown.Reconnect || herald.DisconnectTooManyErrors.Reconnect {
		t.Fatal("reconnect flags")
	}
	if e := herald.AsError(errors.New("secret detail")); e.Code != herald.ErrInternal || strings.Contains(e.Error(), "secret") {
		t.Fatalf("AsError leaks or mislabels: %v", e)
	}
}
