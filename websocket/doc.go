// Package websocket is Herald's WebSocket transport (RFC 6455, with
// permessage-deflate per RFC 7692), built on github.com/lxzan/gws behind
// herald.Transport so that the hub never depends on the library.
//
// NewHandler returns the http.Handler for /connection/websocket: it checks
// Origin and the subprotocol, upgrades, and feeds each text frame to the
// session the Acceptor (the hub) makes for the connection.
package websocket
