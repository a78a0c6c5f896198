package websocket

import (
	"net/http"
	"strings"

	"github.com/lxzan/gws"

	"github.com/heraldrt/herald"
)

// describeHandshake fills in what the connection's timeline tells about
// its handshake: an operator asking why a client dropped first wants to
// know how it came in and through which proxy.
func (h *Handler) describeHandshake(info *herald.ConnInfo, r *http.Request, socket *gws.Conn) {
	info.Subprotocol = socket.SubProtocol()
	// gws accepts permessage-deflate whenever it is enabled and offered.
	info.Compression = h.opts.Compression &&
		strings.Contains(strings.ToLower(r.Header.Get("Sec-WebSocket-Extensions")), "permessage-deflate")
	info.Origin = r.Header.Get("Origin")
	info.UserAgent = r.Header.Get("User-Agent")
	info.Forwarded = forwardedFor(r.Header)
}

// forwardedFor is the client address a proxy passed on, in the order of
// the headers' usual trust: X-Forwarded-For's first entry, X-Real-IP,
// then the standard Forwarded header's for=.
func forwardedFor(h http.Header) string {
	if v := h.Get("X-Forwarded-For"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		return strings.TrimSpace(first)
	}
	if v := h.Get("X-Real-IP"); v != "" {
		return strings.TrimSpace(v)
	}
	for _, part := range strings.Split(h.Get("Forwarded"), ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(k, "for") {
			v, _, _ = strings.Cut(v, ",")
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
