package hooks

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"unicode/utf8"

	"github.com/heraldrt/herald"
)

// FuzzAnswer feeds the decoder of a 200 answer anything: it must never
// panic, and whatever it returns must be something Herald can hand a
// client: a code in the catalog or the application range, a message and a
// close reason within their limits.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		`{"result":{"user":"42","info":{"name":"Ann"},"channels":["personal:42"],"expire_at":1767225600}}`,
		`{"result":{"expire_at":-1}}`,
		`{"result":{"data":{"a":[1,2,{"b":null}]}}}`,
		`{"result":null}`,
		`{"error":{"code":101,"message":"session expired"}}`,
		`{"error":{"code":1001}}`,
		`{"error":{"code":-5,"message":"\xff\xfe"}}`,
		`{"disconnect":{"code":4502,"reason":"no session"}}`,
		`{"disconnect":{"code":4601,"reason":"banned","reconnect":true}}`,
		`{"disconnect":{"code":99999999999}}`,
		`<html>`, ``, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	c, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	decoders := map[Hook]func(json.RawMessage) error{
		ConnectHook:   func(r json.RawMessage) error { _, err := decodeConnect(r); return err },
		RefreshHook:   func(r json.RawMessage) error { _, err := decodeRefresh(r); return err },
		SubscribeHook: func(r json.RawMessage) error { _, err := decodeSubscribe(r); return err },
		PublishHook:   func(r json.RawMessage) error { _, err := resultData(r); return err },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for h, decode := range decoders {
			o := c.answer(h, data, decode)
			switch o.result {
			case resultOK:
				if o.err != nil {
					t.Fatalf("ok with error %v", o.err)
				}
				continue
			case resultRefused, resultError:
			default:
				t.Fatalf("result %q", o.result)
			}
			var de *DisconnectError
			var he *herald.Error
			switch {
			case errors.As(o.err, &de):
				d := de.Disconnect
				_, inCatalog := herald.DisconnectByCode(d.Code)
				if !inCatalog && (d.Code < AppDisconnectMin || d.Code > AppDisconnectMax) {
					t.Fatalf("disconnect code %d", d.Code)
				}
				if len(d.Reason) > maxReason || !utf8.ValidString(d.Reason) || d.Reason == "" {
					t.Fatalf("reason %q", d.Reason)
				}
			case errors.As(o.err, &he):
				if !inErrorCatalog(int64(he.Code)) && (he.Code < AppErrorMin || he.Code > AppErrorMax) {
					t.Fatalf("error code %d", he.Code)
				}
				if len(he.Message) > maxMessage || !utf8.ValidString(he.Message) || he.Message == "" {
					t.Fatalf("message %q", he.Message)
				}
				if o.result == resultError && he.Code != herald.ErrUnavailable {
					t.Fatalf("a failure answered %d", he.Code)
				}
			default:
				t.Fatalf("error %T %v", o.err, o.err)
			}
		}
	})
}
