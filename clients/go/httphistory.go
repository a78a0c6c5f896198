package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// historyPageLimit bounds one page's body, as readLimit bounds a message.
const historyPageLimit = readLimit

// historyURL is the page of channel after since at GET /history/{channel},
// next to the WebSocket endpoint ws (endpointURL's). The channel is
// escaped as the TypeScript client escapes it (encodeURIComponent), so
// that both ask an HTTP cache for the same URL.
func historyURL(ws, channel, epoch string, since uint64) string {
	u, _ := url.Parse(ws) // endpointURL made it
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	base := strings.TrimSuffix(u.EscapedPath(), endpointPath)
	u.Path, u.RawQuery = "", ""
	return u.String() + base + "/history/" + escapeComponent(channel) +
		"?epoch=" + escapeComponent(epoch) + "&since=" + strconv.FormatUint(since, 10)
}

// escapeComponent is JavaScript's encodeURIComponent: every byte but
// A-Z a-z 0-9 - _ . ! ~ * ' ( ) percent-encoded.
func escapeComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// catchUp reads what came after from at GET /history/{channel}, page by
// page, where an HTTP cache or a CDN may answer instead of the server
// (docs/protocol.md, history_http). It stops at the first failure or gap
// and returns what it read so far, in order and without a gap: the
// subscribe that follows recovers the rest over the connection, so a
// failure here costs nothing but the attempt (it is logged at debug).
func (c *Client) catchUp(ctx context.Context, channel string, from Position) []Publication {
	var out []Publication
	since := from.Offset
	for {
		u := historyURL(c.url, channel, from.Epoch, since)
		page, err := c.historyPage(ctx, u)
		if err != nil {
			c.log.Debug("history over HTTP failed: recovering over the connection", "channel", channel, "url", u, "err", err)
			return out
		}
		for _, p := range page.Publications {
			if p.Offset != since+1 {
				return out // a gap: the subscribe says whether it can be filled
			}
			out = append(out, Publication{Channel: channel, Offset: p.Offset, Epoch: from.Epoch, Data: p.Data})
			since = p.Offset
		}
		if len(page.Publications) == 0 || page.Next == nil || *page.Next != since {
			return out
		}
	}
}

// historyPageBody is the body of GET /history/{channel} (docs/api.md).
type historyPageBody struct {
	Publications []struct {
		Offset uint64          `json:"offset"`
		Data   json.RawMessage `json:"data"`
	} `json:"publications"`
	Next *uint64 `json:"next"`
}

func (c *Client) historyPage(ctx context.Context, u string) (*historyPageBody, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, historyPageLimit))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, &httpStatusError{status: res.Status, body: string(body)}
	}
	var p historyPageBody
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

type httpStatusError struct{ status, body string }

func (e *httpStatusError) Error() string {
	return "HTTP " + e.status + ": " + strings.TrimSpace(e.body[:min(len(e.body), 200)])
}
