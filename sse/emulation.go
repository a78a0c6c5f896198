package sse

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/heraldrt/herald"
)

// The headers a POST names its stream with.
const (
	HeaderSession = "Herald-Session"
	HeaderToken   = "Herald-Token"
)

// relayed is a POST carried to the stream's node.
type relayed struct {
	Session string `json:"session"`
	Token   string `json:"token"`
	Frame   []byte `json:"frame"`
}

// outcome is what delivering a POST came to: Code 0 is delivered.
type outcome struct {
	Code    herald.ErrorCode `json:"code,omitempty"`
	Message string           `json:"message,omitempty"`
}

// serveEmulation takes one batch of commands for a stream: the replies
// come on the stream, the POST's answer only says whether they got there.
func (h *Handler) serveEmulation(w http.ResponseWriter, r *http.Request) {
	const name = "emulation"
	if !h.allowOrigin(w, r, name) {
		return
	}
	if r.Method == http.MethodOptions { // a CORS preflight
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, "+HeaderSession+", "+HeaderToken)
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		h.refuse(w, r, name, "method", http.StatusMethodNotAllowed, herald.ErrBadRequest, "send commands with POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(w, r, name, "content_type", http.StatusUnsupportedMediaType, herald.ErrBadRequest,
			fmt.Sprintf("Content-Type %q: send the commands as application/json, one per line", r.Header.Get("Content-Type")))
		return
	}
	id, token := r.Header.Get(HeaderSession), r.Header.Get(HeaderToken)
	if id == "" || token == "" {
		h.refuse(w, r, name, "bad_request", http.StatusBadRequest, herald.ErrBadRequest,
			"name the stream with the "+HeaderSession+" and "+HeaderToken+" headers, as its first event gave them")
		return
	}
	frame, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(h.opts.MaxMessageSize)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, name, "too_large", http.StatusRequestEntityTooLarge, herald.ErrTooLarge,
				fmt.Sprintf("the body is larger than websocket.max_message_size (%d bytes)", h.opts.MaxMessageSize))
			return
		}
		h.refuse(w, r, name, "bad_request", http.StatusBadRequest, herald.ErrBadRequest, "reading the body: "+err.Error())
		return
	}
	if err := checkFrame(frame); err != nil {
		h.refuse(w, r, name, "bad_request", http.StatusBadRequest, herald.ErrBadRequest, err.Error())
		return
	}
	out := h.deliver(r.Context(), relayed{Session: id, Token: token, Frame: frame})
	if out.Code != 0 {
		h.refuse(w, r, name, out.Code.Name(), out.Code.HTTPStatus(), out.Code, out.Message)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deliver feeds the frame to the stream, here or on its node.
func (h *Handler) deliver(ctx context.Context, p relayed) outcome {
	node := nodeOf(p.Session)
	if node == h.node {
		return h.deliverLocal(p)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return outcome{Code: herald.ErrInternal, Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.RelayTimeout)
	defer cancel()
	answer, err := h.relay.Relay(ctx, node, relayKind, payload)
	if err != nil {
		// Ids are made by the nodes: an unanswered one is a node that is
		// gone (with its streams) or a made-up id.
		return outcome{Code: herald.ErrUnknownSession, Message: fmt.Sprintf("session %q: its node did not answer (%v); open a new stream", p.Session, err)}
	}
	var out outcome
	if err := json.Unmarshal(answer, &out); err != nil {
		return outcome{Code: herald.ErrInternal, Message: "the stream's node answered garbage: " + err.Error()}
	}
	return out
}

// answerRelay delivers a POST relayed from another node.
func (h *Handler) answerRelay(payload json.RawMessage) json.RawMessage {
	var p relayed
	out := outcome{Code: herald.ErrBadRequest, Message: "undecodable relayed request"}
	if json.Unmarshal(payload, &p) == nil {
		out = h.deliverLocal(p)
	}
	data, _ := json.Marshal(out) // cannot fail: plain fields
	return data
}

func (h *Handler) deliverLocal(p relayed) outcome {
	h.mu.Lock()
	c := h.conns[p.Session]
	h.mu.Unlock()
	if c == nil {
		return outcome{Code: herald.ErrUnknownSession, Message: fmt.Sprintf("session %q is not open (the stream ended): open a new stream", p.Session)}
	}
	if subtle.ConstantTimeCompare([]byte(p.Token), []byte(c.token)) != 1 {
		return outcome{Code: herald.ErrPermissionDenied, Message: fmt.Sprintf("the token does not match session %q: send the token its stream's first event gave", p.Session)}
	}
	if !c.handleFrame(p.Frame) {
		return outcome{Code: herald.ErrUnknownSession, Message: fmt.Sprintf("session %q has ended: open a new stream", p.Session)}
	}
	return outcome{}
}

// checkFrame refuses a body that is not one or more JSON objects, one per
// line: such garbage is answered on the POST, not fed to the session.
func checkFrame(frame []byte) error {
	if !utf8.Valid(frame) {
		return errors.New("the body is not valid UTF-8")
	}
	n := 0
	for line := range bytes.SplitSeq(frame, []byte{'\n'}) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		n++
		if line[0] != '{' || !json.Valid(line) {
			return fmt.Errorf("line %d is not a JSON object: send protocol v1 commands, one JSON object per line", n)
		}
	}
	if n == 0 {
		return errors.New("the body holds no command")
	}
	return nil
}

func errorBody(code herald.ErrorCode, msg string) []byte {
	data, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg}})
	return data
}
