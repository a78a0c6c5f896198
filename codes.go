package herald

import (
	"errors"
	"fmt"
)

// ErrorCode is a stable numeric error code from codes.json. A reply with an
// error code leaves the connection open.
type ErrorCode uint32

type errorInfo struct {
	name      string
	reason    string
	http      int
	temporary bool
}

// Name is the code's stable snake_case name, e.g. "permission_denied".
func (c ErrorCode) Name() string { return c.info().name }

// Reason is the code's short human text, e.g. "permission denied".
func (c ErrorCode) Reason() string { return c.info().reason }

// HTTPStatus is the status the server API answers with for this code.
func (c ErrorCode) HTTPStatus() int { return c.info().http }

// Temporary says whether the same command may succeed if retried later.
func (c ErrorCode) Temporary() bool { return c.info().temporary }

// Application error codes: the application backend's hooks may refuse a
// command with a code of its own in this range; Herald passes it through.
const (
	AppErrorMin ErrorCode = 1000
	AppErrorMax ErrorCode = 1999
)

func (c ErrorCode) info() errorInfo {
	if i, ok := errorCatalog[c]; ok {
		return i
	}
	if c >= AppErrorMin && c <= AppErrorMax {
		return errorInfo{name: "application", reason: "refused by the application", http: 400}
	}
	return errorCatalog[ErrInternal]
}

// Error is Herald's one error type: a stable code and a message a person can
// act on. It maps once to the wire protocol's error reply and the API's
// JSON error.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Reason()
	}
	return e.Message
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error; an error without a code becomes
// ErrInternal with a message that does not leak the original text.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: ErrInternal, Message: ErrInternal.Reason()}
}

// Disconnect says why a connection ended: a stable code (also the
// WebSocket close code), its reason and whether the client should reconnect.
type Disconnect struct {
	Code      uint16
	Name      string
	Reason    string
	Reconnect bool
}

func (d Disconnect) Error() string {
	return fmt.Sprintf("disconnect %d %s: %s", d.Code, d.Name, d.Reason)
}

// DisconnectByCode returns the catalog entry for a disconnect code.
func DisconnectByCode(code uint16) (Disconnect, bool) {
	for _, d := range Disconnects {
		if d.Code == code {
			return d, true
		}
	}
	return Disconnect{}, false
}
