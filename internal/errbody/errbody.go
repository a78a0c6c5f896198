// Package errbody checks the error bodies Herald's HTTP endpoints answer
// with, {"error":{"code":N,"message":"..."}}, for tests and fuzz targets.
package errbody

import (
	"encoding/json"
	"fmt"

	"github.com/heraldrt/herald"
)

// Check returns the code of an error answer, and an error unless body is
// one with a code from the catalog (codes.json) and a message a person can
// act on.
func Check(body []byte) (herald.ErrorCode, error) {
	var out struct {
		Error *struct {
			Code    herald.ErrorCode `json:"code"`
			Message string           `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("error body %q: %w", body, err)
	}
	switch {
	case out.Error == nil:
		return 0, fmt.Errorf("error body %q: no error object", body)
	case out.Error.Code.Name() == "":
		return out.Error.Code, fmt.Errorf("error body %q: code %d is not in the catalog", body, out.Error.Code)
	case out.Error.Message == "":
		return out.Error.Code, fmt.Errorf("error body %q: no message", body)
	}
	return out.Error.Code, nil
}
