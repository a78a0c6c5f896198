package hub

import (
	"fmt"
	"strings"
	"time"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// The events below are built where they happen (session.go, subscribe.go,
// refresh.go, heartbeat.go); their texts are for a person reading the
// timeline, so they name the setting involved where there is one.

// refusedEvent records a refused connect, subscribe or refresh with the
// code and message the client was given.
func refusedEvent(kind, channel string, err error) Event {
	if d, ok := asDisconnect(err); ok {
		return Event{Kind: kind, Channel: channel, Code: uint32(d.Code), Text: d.Reason}
	}
	e := herald.AsError(err)
	return Event{Kind: kind, Channel: channel, Code: uint32(e.Code), Text: e.Error()}
}

// connectEvent records an accepted connect: who, with what client, and
// until when.
func connectEvent(ident Identity, req *protocol.ConnectRequest) Event {
	var b strings.Builder
	if ident.User == "" {
		b.WriteString("anonymous")
	} else {
		fmt.Fprintf(&b, "user %s", ident.User)
	}
	if req.Name != "" {
		fmt.Fprintf(&b, ", client %s %s", req.Name, req.Version)
	}
	b.WriteString(", ")
	b.WriteString(expiryText(ident.ExpiresAt))
	return Event{Kind: "connect", Text: b.String()}
}

func expiryEvent(kind string, at time.Time) Event {
	return Event{Kind: kind, Text: expiryText(at)}
}

func expiryText(at time.Time) string {
	if at.IsZero() {
		return "credentials never expire"
	}
	return "credentials expire at " + at.UTC().Format(time.RFC3339)
}

// subscribeEvent records a subscription made and, when the client asked
// to recover, whether it did.
func subscribeEvent(j *joined, req *protocol.SubscribeRequest) Event {
	text := "subscribed"
	switch {
	case req == nil:
		text = "subscribed by the server"
	case req.Recover && j.result.Recovered:
		text = fmt.Sprintf("recovered from offset %d: %d missed publications replayed", req.Offset, len(j.result.Publications))
	case req.Recover:
		text = fmt.Sprintf("not recovered from offset %d epoch %q (history at %d epoch %q): the app must refetch",
			req.Offset, req.Epoch, j.result.Offset, j.result.Epoch)
	}
	return Event{Kind: "subscribe", Channel: j.channel, Text: text}
}
