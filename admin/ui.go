package admin

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/heraldrt/herald"
)

//go:embed static
var static embed.FS

// UI serves the admin web UI under /admin/: a page and its script and
// style, all embedded, which call the admin API from the browser with the
// secret the operator types (kept in the tab's sessionStorage). The files
// hold nothing secret, yet with no secret configured the UI is off like
// the API. The headers keep the page from being framed, from loading
// anything but its own files and from sending a Referer.
func UI(secret string) http.Handler {
	files, _ := fs.Sub(static, "static") // a literal directory: cannot fail
	fileServer := http.StripPrefix("/admin/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secret == "" {
			writeError(w, http.StatusForbidden, herald.ErrUnauthorized, "the admin UI is off until admin.secret (HERALD_ADMIN_SECRET) is set")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, herald.ErrBadRequest, "the admin UI's files are read with GET")
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache") // a new binary serves new files at the same paths
		if r.URL.Path == "/admin" {
			http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
			return
		}
		if r.URL.Path == "/admin/" {
			http.ServeFileFS(w, r, files, "index.html")
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}
