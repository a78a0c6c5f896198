// Package hooks calls the application's own backend over HTTP when a client
// connects, refreshes, subscribes, publishes or calls an RPC method, so that
// the application can authenticate connections with the sessions and
// cookies it already has instead of issuing JWTs, and decide each
// subscription and publication itself.
//
// Start with Config and New. The hub asks Client.Enabled whether a hook is
// on, builds ConnectRequest.Headers from the client's handshake with
// Client.ForwardedHeaders, then calls Client.Connect, Client.Refresh,
// Client.Subscribe, Client.Publish and Client.RPC, and hands the client
// the result or the error. A *Client is safe for concurrent use and holds
// no goroutines; Close releases its idle connections. ExampleClient_Connect
// shows a backend and the three outcomes.
//
// # Wire format
//
// Every hook is one HTTP POST of a JSON object to the hook's URL, with
// Content-Type: application/json and the static Config.Headers (a shared
// secret there tells the backend the call is Herald's). The request bodies,
// field by field (absent fields are omitted):
//
//	connect:   {"client", "transport", "remote_addr", "headers", "name", "version", "data"}
//	refresh:   {"client", "user"}
//	subscribe: {"client", "user", "channel", "data"}
//	publish:   {"client", "user", "channel", "data"}
//	rpc:       {"client", "user", "method", "data"}
//
// client is Herald's id of the connection, user the id the connect hook
// gave it ("" for anonymous), data the client's own JSON, passed through.
// The connect hook's "headers" holds the client's handshake headers named
// in Config.ForwardHeaders (canonical names, several values joined); the
// same headers are also set on the connect request itself, so that the
// backend's usual session middleware sees the browser's Cookie.
//
// The backend answers HTTP 200 with one of:
//
//	{"result": {...}}                                  allow
//	{"error": {"code": 1001, "message": "..."}}        refuse this command
//	{"disconnect": {"code": 4601, "reason": "...", "reconnect": false}}
//	                                                   refuse and close the connection
//
// The results:
//
//	connect:   {"user": "42", "info": {...}, "channels": ["personal:42"], "expire_at": 1767225600}
//	refresh:   {"expire_at": 1767225600, "info": {...}}
//	subscribe: {"info": {...}}
//	publish:   {"data": {...}}   data present: publish this instead of the client's data
//	rpc:       {"data": {...}}   the reply to the client
//
// Every result field is optional. expire_at is a Unix time in seconds at
// which the connection's credentials end (the refresh hook may push it
// back); 0 or absent means never. info is public data shown to other
// clients in presence and join/leave. An empty user makes the connection
// anonymous. If an answer carries more than one of result, error and
// disconnect, disconnect wins over error and error over result: a confused
// backend never lets a client in.
//
// # Codes
//
// An error refusal reaches the client as a *herald.Error with the
// backend's message when its code is in Herald's catalog (100–199, e.g.
// 101 unauthorized, 103 permission_denied) or in the application range
// AppErrorMin–AppErrorMax (1000–1999), which Herald never uses. Any other
// code becomes 103 permission_denied.
//
// A disconnect refusal is returned as a *DisconnectError holding a
// herald.Disconnect: a catalog code (e.g. 4502 invalid_token, 4503
// force_disconnect) keeps the catalog's name and reconnect flag, an
// application code AppDisconnectMin–AppDisconnectMax (4600–4999) is named
// "application" and reconnects only if the backend says "reconnect": true.
// Any other code becomes 4503 force_disconnect. Reasons longer than a
// WebSocket close frame allows (123 bytes) are cut.
//
// Refusals are only ever read from a 200 answer. Anything else — no answer
// within Config.Timeout, a refused connection, a status other than 200
// (redirects are not followed), a body that is not such JSON or is larger
// than Config.MaxResponseSize — is the backend failing, not refusing: the
// call returns a *herald.Error with herald.ErrUnavailable (temporary, so
// clients retry with backoff), logs one warning and counts it. A 404 from a
// misrouted proxy therefore never reads as "this user is not allowed".
package hooks
