// Package historyhttp serves channels' history over plain HTTP GETs, in
// pages that HTTP caches and CDNs can keep: GET /history/{channel}?epoch=E&since=N
// answers the publications after offset N of epoch E (docs/api.md has the
// shape). A full page below the stream's newest publication can never
// change, so it is cached as immutable; the open end is cached for a
// second, so that many clients catching up at once cost the server one
// read per second and page.
//
// Start with NewHandler; the hub (hub.Hub.HTTPHistory) applies the
// namespace's history_http switch and its access rules.
package historyhttp
