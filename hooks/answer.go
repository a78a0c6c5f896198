package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/heraldrt/herald"
)

// The code ranges a backend may use for its own refusals, beside Herald's
// catalog. Herald never assigns codes in them, so a client can tell an
// application's refusal from Herald's own.
const (
	// AppErrorMin and AppErrorMax bound application error codes: an error
	// refusal with one reaches the client as is, with the backend's
	// message.
	AppErrorMin = herald.AppErrorMin
	AppErrorMax = herald.AppErrorMax
	// AppDisconnectMin and AppDisconnectMax bound application disconnect
	// codes: inside the WebSocket private range (4000–4999), above the
	// catalog's 4000s (reconnect) and 4500s (do not reconnect) blocks.
	AppDisconnectMin uint16 = 4600
	AppDisconnectMax uint16 = 4999
)

const (
	// maxMessage bounds a refusal message passed to the client.
	maxMessage = 256
	// maxReason is the most a WebSocket close frame holds after its code
	// (RFC 6455 5.5: 125-byte control payload).
	maxReason = 123
)

// DisconnectError is a backend's refusal that closes the connection.
// errors.As(err, &d) with a herald.Disconnect d finds the disconnect.
type DisconnectError struct {
	Hook       Hook
	Disconnect herald.Disconnect
}

func (e *DisconnectError) Error() string {
	return fmt.Sprintf("%s hook: %v", e.Hook, e.Disconnect)
}

func (e *DisconnectError) Unwrap() error { return e.Disconnect }

type envelope struct {
	Result     json.RawMessage `json:"result"`
	Error      *refusal        `json:"error"`
	Disconnect *disconnect     `json:"disconnect"`
}

type refusal struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

type disconnect struct {
	Code      int64  `json:"code"`
	Reason    string `json:"reason"`
	Reconnect *bool  `json:"reconnect"`
}

// answer reads a 200 answer's body.
func (c *Client) answer(h Hook, data []byte, decode func(json.RawMessage) error) outcome {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		o := failed(resultError, "%s hook answered invalid JSON", h)
		o.reason += ": " + err.Error()
		return o
	}
	switch {
	case env.Disconnect != nil:
		return disconnectOutcome(h, env.Disconnect)
	case env.Error != nil:
		return refusalOutcome(h, env.Error)
	case isNull(env.Result):
		return failed(resultError, "%s hook answered neither result, error nor disconnect", h)
	}
	if err := decode(env.Result); err != nil {
		o := failed(resultError, "%s hook answered an invalid result", h)
		o.reason += ": " + err.Error()
		return o
	}
	return outcome{result: resultOK}
}

func refusalOutcome(h Hook, r *refusal) outcome {
	code := herald.ErrorCode(r.Code)
	o := outcome{result: resultRefused, reason: fmt.Sprintf("%s hook refused with error %d", h, r.Code), level: slog.LevelDebug}
	known := r.Code >= int64(AppErrorMin) && r.Code <= int64(AppErrorMax) || inErrorCatalog(r.Code)
	if !known {
		code = herald.ErrPermissionDenied
		o.level = slog.LevelWarn
		o.reason += fmt.Sprintf(", outside the catalog (100–199) and the application range (%d–%d): sent %d %s",
			AppErrorMin, AppErrorMax, code, code.Name())
	}
	msg := cut(r.Message, maxMessage)
	if msg == "" {
		msg = code.Reason()
		if code >= AppErrorMin {
			msg = "refused by the application" // Reason knows only the catalog
		}
	}
	o.err = &herald.Error{Code: code, Message: msg}
	return o
}

// inErrorCatalog reports whether code is one of codes.json's errors. The
// catalog itself is not exported; ErrorCode.Name answers ErrInternal's name
// for a code it does not know.
func inErrorCatalog(code int64) bool {
	if code < 100 || code > 199 {
		return false
	}
	c := herald.ErrorCode(code)
	return c == herald.ErrInternal || c.Name() != herald.ErrInternal.Name()
}

func disconnectOutcome(h Hook, r *disconnect) outcome {
	o := outcome{result: resultRefused, reason: fmt.Sprintf("%s hook disconnected with %d", h, r.Code), level: slog.LevelDebug}
	reason := cut(r.Reason, maxReason)
	var d herald.Disconnect
	var ok bool
	if r.Code >= 0 && r.Code <= 0xffff {
		d, ok = herald.DisconnectByCode(uint16(r.Code))
	}
	switch {
	case ok:
		if reason != "" {
			d.Reason = reason
		}
	case r.Code >= int64(AppDisconnectMin) && r.Code <= int64(AppDisconnectMax):
		d = herald.Disconnect{Code: uint16(r.Code), Name: "application", Reason: reason, Reconnect: r.Reconnect != nil && *r.Reconnect}
		if d.Reason == "" {
			d.Reason = "disconnected by the application"
		}
	default:
		d = herald.DisconnectForceDisconnect
		if reason != "" {
			d.Reason = reason
		}
		o.level = slog.LevelWarn
		o.reason += fmt.Sprintf(", outside the catalog and the application range (%d–%d): sent %d %s",
			AppDisconnectMin, AppDisconnectMax, d.Code, d.Name)
	}
	o.err = &DisconnectError{Hook: h, Disconnect: d}
	return o
}

// cut shortens s to at most n bytes without splitting a character, and
// replaces invalid UTF-8, since it goes into JSON and close frames.
func cut(s string, n int) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // each invalid byte becomes U+FFFD
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// compact returns raw without insignificant whitespace, nil for null: the
// data goes into newline-separated protocol frames, where a backend's
// pretty-printed JSON would waste bytes on every delivery.
func compact(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
