package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/heraldrt/herald"
)

// apiReplyError is the server API refusing a request with its error body.
type apiReplyError struct {
	Code    uint32
	Status  int
	Message string
}

func (e *apiReplyError) Error() string {
	return fmt.Sprintf("%s (code %d, HTTP %d)%s", e.Message, e.Code, e.Status, apiKeyHint(e.Code))
}

// apiKeyHint says where the right key is when the API refused the one
// given: in development mode it is random unless set, printed at start.
func apiKeyHint(code uint32) string {
	if herald.ErrorCode(code) != herald.ErrUnauthorized {
		return ""
	}
	return ": give the server's api_key with --api-key or HERALD_API_KEY (serve --dev prints it at start: \"herald: API key: ...\")"
}

// apiCall POSTs body as JSON to a server API endpoint and decodes the
// answer into out. A refusal with Herald's error body is an
// *apiReplyError, so that callers can act on its code.
func apiCall(ctx context.Context, endpoint, key string, body, out any, timeout time.Duration) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, &buf)
	if err != nil {
		return fmt.Errorf("POST %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "apikey "+key)
	req.Header.Set("User-Agent", "herald-cli/"+version)
	client := &http.Client{
		// A redirect would resend the key to another host or turn the POST
		// into a GET (301, 302); better to show where it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("POST %s: no response within %s", endpoint, timeout)
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, cliReadLimit))
	if err != nil {
		return fmt.Errorf("POST %s: read response: %w", endpoint, err)
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("POST %s: HTTP %s with a reply that does not decode: %v: %.200q", endpoint, resp.Status, err, b)
		}
		return nil
	}
	var e apiError
	if json.Unmarshal(b, &e) == nil && e.Error != nil {
		if e.Error.Message == "" {
			e.Error.Message = herald.ErrorCode(e.Error.Code).Reason()
		}
		return &apiReplyError{Code: e.Error.Code, Status: resp.StatusCode, Message: e.Error.Message}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		return fmt.Errorf("POST %s: HTTP %s redirects to %s: use that URL", endpoint, resp.Status, loc)
	}
	msg := fmt.Sprintf("POST %s: HTTP %s", endpoint, resp.Status)
	if s := strings.TrimSpace(string(b)); s != "" && !strings.HasPrefix(s, "<") {
		msg += ": " + truncateText(s, 200)
	}
	return errors.New(msg)
}
