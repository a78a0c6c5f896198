package herald

// Transport is one client connection as the hub sees it: a way to write
// encoded messages and to end the connection with a reason. Implementations
// live in websocket/ (and sse/ later); the hub never knows which it has.
type Transport interface {
	// Name is the transport's short name, e.g. "websocket", for logs and metrics.
	Name() string
	// Write sends the messages, already encoded, in one write: a JSON
	// transport joins them with newlines into one frame. It may block up to
	// the transport's write timeout. Write and Close are safe to call
	// concurrently.
	Write(msgs [][]byte) error
	// Close ends the connection with the disconnect's code and reason.
	Close(d Disconnect) error
}

// Session is the hub's side of one connection, fed by its transport.
type Session interface {
	// HandleFrame processes one frame read from the client. The transport
	// calls it from one goroutine, in order; the frame is not retained.
	HandleFrame(frame []byte)
	// HandleClose reports that the connection has ended; d says why when
	// the transport knows (the peer's close code, a protocol violation),
	// nil when the peer just went away.
	HandleClose(d *Disconnect)
}

// ConnInfo describes a new connection to the hub.
type ConnInfo struct {
	// RemoteAddr is the client's address as the server sees it.
	RemoteAddr string
	// Transport is the transport's name, e.g. "websocket".
	Transport string
	// Subprotocol, Compression, Origin, UserAgent and Forwarded describe
	// the handshake for the connection's timeline (hub/timeline.go):
	// Forwarded is the client's address as the proxies in front told it
	// (X-Forwarded-For, X-Real-IP or Forwarded), "" without a proxy.
	Subprotocol string
	Compression bool
	Origin      string
	UserAgent   string
	Forwarded   string
	// Header holds the handshake's headers the application backend's
	// connect hook is configured to see (cookies, say); the hub lets go of
	// them once the connection is authenticated.
	Header map[string]string
}
