// Package demo serves the chat demo of `herald serve --dev`: a page at /
// built on the TypeScript client (clients/js), and a token endpoint that
// plays the application backend, so that presence and "X is typing" show
// names taken from tokens rather than from whatever a tab claims.
//
// The page, its script and the client bundles live in static/ and are
// embedded in the binary. The bundles (herald.min.js, herald-shared.min.js
// and herald-shared-worker.min.js, for shared: true; herald-fallback.min.js,
// the sse and http_stream transports) are copied there from
// clients/js/dist by ci/generate.sh, which fails when the committed copies
// are stale; the rest of static/ is written by hand.
//
// cmd/herald mounts Handler only in development mode: outside it, / serves
// nothing.
package demo

import (
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/auth"
)

//go:embed static
var static embed.FS

// Options configure Handler.
type Options struct {
	// Secret is the HMAC secret the token endpoint signs with: the server's
	// token.hmac_secret, so that the tokens it makes are accepted (at least
	// auth.MinHMACSecret bytes). Empty leaves POST /demo/token out (404)
	// and the page connects anonymously.
	Secret string
	// TokenTTL is how long a demo token lives; the page asks for a new one
	// through the client's getToken before it expires. Zero means 1 hour.
	TokenTTL time.Duration
	// Logger receives one line per refused token request. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Handler serves the page at exactly /, its files under /demo/, and
// POST /demo/token, which answers {"user":"<id>","name":"<display name>"}
// with {"token":"<JWT>"} whose sub is the user and whose info is {"name"}.
// Every other path is 404.
func Handler(o Options) http.Handler {
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	files, _ := fs.Sub(static, "static") // static is a literal directory: cannot fail
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		noCache(w)
		http.ServeFileFS(w, r, files, "index.html")
	})
	fileServer := http.StripPrefix("/demo/", http.FileServerFS(files))
	mux.HandleFunc("GET /demo/", func(w http.ResponseWriter, r *http.Request) {
		noCache(w)
		fileServer.ServeHTTP(w, r)
	})
	if o.Secret == "" {
		// No way to sign: the page sees 404 and connects anonymously.
		mux.HandleFunc("POST /demo/token", http.NotFound)
		return mux
	}
	mux.HandleFunc("POST /demo/token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := mint(o, r.Body)
		if err != nil {
			o.Logger.Info("demo token refused", "err", err)
			e := herald.AsError(err)
			writeJSON(w, e.Code.HTTPStatus(), map[string]any{"error": map[string]any{"code": uint32(e.Code), "message": e.Error()}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	})
	return mux
}

// noCache makes browsers revalidate: a rebuilt binary serves new files at
// the same paths.
func noCache(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-cache") }

// userID is what the page may choose as its user id: it becomes the
// token's sub, and the server refuses ids with '#' or ','.
var userID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// tokenRequest is the body of POST /demo/token.
type tokenRequest struct {
	User string `json:"user"`
	Name string `json:"name"`
}

// maxName is the longest display name, in characters.
const maxName = 32

func mint(o Options, body io.Reader) (string, error) {
	var req tokenRequest
	dec := json.NewDecoder(io.LimitReader(body, 4096))
	if err := dec.Decode(&req); err != nil {
		return "", herald.Errorf(herald.ErrBadRequest, `send a JSON body {"user":"<id>","name":"<display name>"}: %v`, err)
	}
	if !userID.MatchString(req.User) {
		return "", herald.Errorf(herald.ErrBadRequest, "user must be 1 to 64 letters, digits, '-' or '_', got %q", req.User)
	}
	if err := checkName(req.Name); err != nil {
		return "", err
	}
	info, _ := json.Marshal(map[string]string{"name": req.Name}) // a string map always marshals
	tok, err := auth.Mint(o.Secret, auth.MintClaims{User: req.User, TTL: o.TokenTTL, Info: info})
	if err != nil {
		return "", herald.Errorf(herald.ErrInternal, "demo: %v", err)
	}
	return tok, nil
}

func checkName(name string) error {
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n == 0 || n > maxName {
		return herald.Errorf(herald.ErrBadRequest, "name must be 1 to %d characters of valid UTF-8, got %d", maxName, n)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return herald.Errorf(herald.ErrBadRequest, "name must not contain control characters, got %q", name)
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
