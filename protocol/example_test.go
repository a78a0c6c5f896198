package protocol_test

import (
	"fmt"

	"github.com/heraldrt/herald/protocol"
)

// A frame may carry several commands; a bad one gets an error and does not
// hide the good ones around it.
func ExampleDecodeCommands() {
	frame := []byte("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"histroy\":{}}\n{\"id\":3,\"subscribe\":{\"channel\":\"chat:lobby\"}}\n")
	protocol.DecodeCommands(frame, func(cmd *protocol.Command, err *protocol.DecodeError) {
		if err != nil {
			fmt.Printf("id %d: error (unknown command: %v): %s\n", err.ID, err.Unknown, err.Message)
			return
		}
		fmt.Printf("id %d: %s\n", cmd.ID, cmd.Name())
	})
	// Output:
	// id 1: connect
	// id 2: error (unknown command: true): unknown command "histroy": protocol v1 knows connect, subscribe, unsubscribe, publish, ping, pong, history, presence, presence_stats, rpc, refresh, sub_refresh
	// id 3: subscribe
}

// AppendPub encodes a publication once for all of a channel's subscribers.
func ExampleAppendPub() {
	var buf []byte
	buf = protocol.AppendPub(buf, "news", 6, "xyz", []byte(`{"title":"hi"}`))
	fmt.Println(string(buf))
	// Output: {"channel":"news","pub":{"offset":6,"epoch":"xyz","data":{"title":"hi"}}}
}

func ExampleEncodeReply() {
	fmt.Println(string(protocol.EncodeReply(&protocol.Reply{ID: 2, Error: &protocol.Error{Code: 105, Message: `already subscribed to "chat:lobby"`}})))
	// Output: {"id":2,"error":{"code":105,"message":"already subscribed to \"chat:lobby\""}}
}
