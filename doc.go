// Package herald holds the domain of the Herald real-time messaging server:
// channels and namespaces, publications with their offsets and epochs, the
// error and disconnect codes every part speaks, and the small interfaces at
// the seams (Broker, Transport).
//
// The pieces live in their own packages: protocol/ (wire protocol v1),
// hub/ (connections, subscriptions, fan-out), websocket/ (the WebSocket
// transport), memory/ (the embedded broker), api/ (the server HTTP API) and
// cmd/herald, the only place where they are wired together. Start with
// docs/protocol.md for the wire protocol and hub.New for the server side.
package herald

//go:generate go run ./internal/gencodes
