// Package sse is Herald's HTTP fallback: protocol v1 over Server-Sent
// Events (/connection/sse) and over a newline-delimited HTTP stream
// (/connection/http_stream), for clients behind proxies that strip
// Upgrade or kill WebSockets. The server's messages ride the long-lived
// GET response; the client's commands are POSTs to /connection/emulation
// naming the stream's session id and its secret token. A POST that lands
// on another node is relayed to the stream's node through the broker
// (hub.Relay), so no load balancer needs sticky sessions.
//
// The hub sees each stream as one more herald.Transport: frames, auth,
// limits, pings, codes and metrics are the WebSocket transport's.
// docs/protocol.md ("HTTP fallback transports") is the wire contract.
package sse
