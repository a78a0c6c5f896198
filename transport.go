package herald

// Transport is one client connection as the hub sees it: a way to write
// encoded messages and to end the connection with a reason. Implementations
// live in websocket/ (and sse/ later); the hub never knows which it has.
type Transport interface {
	// Name is the transport's short name, e.g. "websocket", for logs and metrics.
	Name() string
	// Write sends the messages, already encoded, in one write: a JSON
	// transport joins them with newlines into one frame. Write is called by
	// one goroutine at a time and may block up to the transport's write
	// timeout.
	Write(msgs [][]byte) error
	// Close ends the connection with the disconnect's code and reason.
	Close(d Disconnect) error
}
