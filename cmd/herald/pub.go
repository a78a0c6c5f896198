package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

var pubCommand = &command{
	name:    "pub",
	summary: "publish JSON data to a channel through the server API",
	run:     runPub,
}

const pubUsage = `Usage: herald pub --api URL [--api-key KEY] [flags] CHANNEL JSON

Publishes JSON to CHANNEL with the server API (POST URL/api/publish) and
prints the publication's place in the channel, {"offset":N,"epoch":"..."}.
JSON must be valid JSON: quote a string as '"hello"'. With JSON "-" the
data is read from stdin. The API key comes from --api-key or, to keep it
out of the process list, from the environment variable HERALD_API_KEY.
URL is the server's base URL, or any of its endpoint URLs (the server
prints its .../connection/websocket URL at start). Flags may come before
or after the arguments.

Example:
  HERALD_API_KEY=secret herald pub --api http://127.0.0.1:8000 news '{"title":"hi"}'

Exit status: 0 when published, 1 when the server refuses or cannot be
reached, 2 on bad usage or invalid JSON.
`

// pubMaxReply bounds how much of a reply is read: the API answers with a
// few dozen bytes, and a proxy's error page need not be read whole.
const pubMaxReply = 1 << 20

func runPub(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCLIFlags("pub")
	api := fs.String("api", "", "server base `URL`, or its ws:// endpoint URL (required)")
	key := fs.String("api-key", "", "server API `key` (default $HERALD_API_KEY)")
	aliasFlag(fs, "key", "api-key")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for the request")
	if code, ok := parseCLIFlags(fs, args, pubUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 2 {
		return usageError(stderr, fs, "need a CHANNEL and JSON data")
	}
	if *api == "" {
		return usageError(stderr, fs, "--api URL is required")
	}
	endpoint, err := apiURL(*api, publishPath)
	if err != nil {
		return usageError(stderr, fs, err.Error())
	}
	if *key == "" {
		*key = os.Getenv("HERALD_API_KEY")
	}
	if *key == "" {
		return usageError(stderr, fs, "no API key: pass --api-key or set HERALD_API_KEY")
	}
	channel := fs.Arg(0)
	if msg := checkChannels([]string{channel}); msg != "" {
		return usageError(stderr, fs, msg)
	}
	data, err := pubData(fs.Arg(1), os.Stdin)
	if err != nil {
		fmt.Fprintf(stderr, "herald pub: %v\n", err)
		return 2
	}

	reply, err := publish(ctx, endpoint, *key, channel, data, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "herald pub: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", reply)
	return 0
}

// pubData returns the data to publish, checked here so that a shell quoting
// mistake gets a precise message instead of a round trip and a 400.
func pubData(arg string, stdin io.Reader) (json.RawMessage, error) {
	from := "the JSON argument"
	data := []byte(arg)
	if arg == "-" {
		from = "stdin"
		var err error
		if data, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty: give JSON data, e.g. '{}' or '\"text\"'", from)
	}
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		msg := fmt.Sprintf("%s is not valid JSON: %v", from, err)
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			msg = fmt.Sprintf("%s is not valid JSON: %v (at byte %d)", from, err, syntaxErr.Offset)
		}
		if s := strings.TrimSpace(string(data)); s != "" && s[0] != '{' && s[0] != '[' && s[0] != '"' {
			msg += `; a string needs JSON quotes, e.g. '"hello"'`
		}
		return nil, errors.New(msg)
	}
	return raw, nil
}

// apiError is the server API's error body.
type apiError struct {
	Error *struct {
		Code    uint32 `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// publish POSTs one publication and returns the reply body, compacted to
// one line. Subscribers get the data as the publisher wrote it: apiCall
// does not turn <, > and & into \u003c escapes.
func publish(ctx context.Context, endpoint, key, channel string, data json.RawMessage, timeout time.Duration) ([]byte, error) {
	var reply json.RawMessage
	err := apiCall(ctx, endpoint, key, struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}{channel, data}, &reply, timeout)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, reply); err != nil {
		return nil, fmt.Errorf("POST %s: a reply that is not JSON: %.200q", endpoint, reply)
	}
	return out.Bytes(), nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
