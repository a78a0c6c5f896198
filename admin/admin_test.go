package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Guard lets only the right secret through, and nothing when none is set.
func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tc := range []struct {
		secret, header string
		want           int
	}{
		{"s3cret", "admin s3cret", http.StatusTeapot},
		{"s3cret", "ADMIN  s3cret ", http.StatusTeapot},
		{"s3cret", "", http.StatusUnauthorized},
		{"s3cret", "admin s3cre", http.StatusUnauthorized},
		{"s3cret", "apikey s3cret", http.StatusUnauthorized},
		{"", "", http.StatusForbidden},
		{"", "admin ", http.StatusForbidden},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/admin/api/connections", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		Guard(tc.secret, ok).ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("secret %q, header %q: %d, want %d", tc.secret, tc.header, rec.Code, tc.want)
		}
	}
}
