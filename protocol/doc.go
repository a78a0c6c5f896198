// Package protocol is Herald's wire protocol v1: the commands a client sends,
// the replies and pushes the server sends back, and their JSON encoding.
//
// Every message is one JSON object; several may share one frame, separated
// by newlines. Commands carry an "id" that the reply echoes; pushes carry
// none. A command names its kind by the one key it carries:
//
//	{"id":1,"connect":{}}
//	{"id":2,"subscribe":{"channel":"chat:lobby"}}
//
// docs/protocol.md is the specification, with an example of each message;
// DecodeCommands is the decoder and Encoder the encoder.
package protocol
