package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hooks"
)

// The application's connect endpoint: it knows its users by the session
// cookie the browser sent to Herald, and Herald by a shared secret.
func connectEndpoint(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Herald-Secret") != "s3cret" {
		http.Error(w, "not Herald", http.StatusUnauthorized)
		return
	}
	sid, err := r.Cookie("sid")
	switch {
	case err != nil:
		fmt.Fprint(w, `{"disconnect":{"code":4502,"reason":"log in first"}}`)
	case sid.Value == "good":
		fmt.Fprint(w, `{"result":{"user":"42","info":{"name":"Ann"},"channels":["personal:42"]}}`)
	default:
		fmt.Fprint(w, `{"error":{"code":101,"message":"session expired"}}`)
	}
}

func ExampleClient_Connect() {
	app := httptest.NewServer(http.HandlerFunc(connectEndpoint))
	defer app.Close()

	c, err := hooks.New(hooks.Config{
		ConnectURL: app.URL + "/herald/connect",
		Headers:    map[string]string{"X-Herald-Secret": "s3cret"},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	for _, cookie := range []string{"sid=good", "sid=old", ""} {
		// The headers of the client's WebSocket handshake.
		handshake := http.Header{}
		if cookie != "" {
			handshake.Set("Cookie", cookie)
		}
		res, err := c.Connect(context.Background(), hooks.ConnectRequest{
			Client:    "c1",
			Transport: "websocket",
			Headers:   c.ForwardedHeaders(handshake),
		})
		var d herald.Disconnect
		var e *herald.Error
		switch {
		case errors.As(err, &d):
			fmt.Printf("close the connection with %d %s: %s\n", d.Code, d.Name, d.Reason)
		case errors.As(err, &e):
			fmt.Printf("answer connect with error %d: %s\n", e.Code, e.Message)
		default:
			info, _ := json.Marshal(res.Info)
			fmt.Printf("user %s, info %s, subscribe to %v\n", res.User, info, res.Channels)
		}
	}
	// Output:
	// user 42, info {"name":"Ann"}, subscribe to [personal:42]
	// answer connect with error 101: session expired
	// close the connection with 4502 invalid_token: log in first
}
