package hub

import (
	"context"

	"github.com/heraldrt/herald"
)

// HTTPHistoryQuery is a read of a channel's history over plain HTTP
// (package historyhttp): no connection stands behind it, so the token, if
// any, is all there is to say who asks.
type HTTPHistoryQuery struct {
	// Token is a connection token, or in a namespace whose subscribe
	// access is token a subscription token for the channel; empty reads
	// anonymously.
	Token string
	// Since is the position the page starts after; its epoch must be the
	// stream's current one.
	Since herald.StreamPosition
	// Limit is the most publications returned, capped at the namespace's
	// history_size.
	Limit int
}

// HTTPHistoryPage is a page read for an HTTP GET.
type HTTPHistoryPage struct {
	herald.HistoryResult
	// Limit is the most publications the page could have held: the
	// query's, capped at the namespace's history_size. A page this full
	// may have more after it.
	Limit int
}

// HTTPHistory reads a page of a channel's history for an HTTP GET, after
// checking what a subscribe would (the namespace's subscribe access, a
// user-limited channel's users) and the namespace's history access. A
// reader allowed to subscribe counts as a subscriber, since a subscribe
// would have made it one. Where subscribing needs a subscription token,
// the reader sends that token, checked as a subscribe checks it (its
// channel, signature and expiry), and its user is the reader: an
// application hands it out in a signed URL to someone it would let
// subscribe. The namespace must have history_http on.
func (h *Hub) HTTPHistory(ctx context.Context, channel string, q HTTPHistoryQuery) (HTTPHistoryPage, error) {
	ns, err := h.historyNamespace(channel)
	if err != nil {
		return HTTPHistoryPage{}, err
	}
	if !ns.HistoryHTTP {
		return HTTPHistoryPage{}, herald.Errorf(herald.ErrNotAvailable, "the history of %q is not served over HTTP: set history_http: true in its namespace", channel)
	}
	if q.Since.Epoch == "" {
		return HTTPHistoryPage{}, herald.Errorf(herald.ErrBadRequest, "an epoch is required: take it from the subscribe reply or a publication")
	}
	access := orDefault(ns.SubscribeAccess, herald.AccessAnyone)
	var user string
	if access == herald.AccessToken {
		user, err = h.httpSubscriber(ctx, channel, q.Token)
	} else {
		user, err = h.httpReader(ctx, q.Token)
	}
	if err != nil {
		return HTTPHistoryPage{}, err
	}
	if err := admitsUser(channel, user); err != nil {
		return HTTPHistoryPage{}, err
	}
	switch access {
	case herald.AccessUser:
		if user == "" {
			return HTTPHistoryPage{}, herald.Errorf(herald.ErrPermissionDenied, "only authenticated users may read the history of %q: send a connection token", channel)
		}
	}
	if orDefault(ns.HistoryAccess, herald.AccessSubscriber) == herald.AccessUser && user == "" {
		return HTTPHistoryPage{}, herald.Errorf(herald.ErrPermissionDenied, "only authenticated users may read the history of %q: send a connection token", channel)
	}
	limit := min(q.Limit, ns.HistorySize)
	res, err := h.History(ctx, channel, HistoryQuery{Since: &q.Since, Limit: limit})
	return HTTPHistoryPage{HistoryResult: res, Limit: limit}, err
}

// httpReader is the user a connection token names, or "" without one.
func (h *Hub) httpReader(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	if h.cfg.Auth == nil {
		return "", herald.Errorf(herald.ErrUnauthorized, "this server verifies no tokens: read without one")
	}
	id, err := h.cfg.Auth.Connect(ctx, Credentials{Token: token, Conn: herald.ConnInfo{Transport: "http_history"}})
	if err != nil {
		if d, ok := asDisconnect(err); ok {
			// An HTTP reader is not closed but refused: the same reason,
			// as the unauthorized a retry with a new token can fix.
			return "", herald.Errorf(herald.ErrUnauthorized, "token refused: %s", d.Reason)
		}
		return "", err
	}
	return id.User, nil
}

// httpSubscriber checks a subscription token for channel as a subscribe
// does, and returns its user.
func (h *Hub) httpSubscriber(ctx context.Context, channel, token string) (string, error) {
	if token == "" {
		return "", herald.Errorf(herald.ErrPermissionDenied, "channel %q needs a subscription token: send it as \"Authorization: Bearer <token>\" or in the token parameter", channel)
	}
	if h.cfg.Auth == nil {
		return "", herald.Errorf(herald.ErrPermissionDenied, "channel %q needs a subscription token, and this server verifies none", channel)
	}
	g, err := h.cfg.Auth.Subscribe(ctx, SubscribeCheck{Channel: channel, Token: token, HTTPRead: true})
	if err != nil {
		return "", err
	}
	return g.User, nil
}

// openOverHTTP reports whether HTTPHistory serves channel to anonymous
// readers, so that the pages may sit in shared caches: what the subscribe
// reply's history_http tells clients. Channels that need a user are left
// to recovery over the connection, where the user is known.
func openOverHTTP(channel string, ns herald.NamespaceOptions) bool {
	_, limited := herald.ChannelUsers(channel)
	return ns.HistoryHTTP && !limited &&
		orDefault(ns.SubscribeAccess, herald.AccessAnyone) == herald.AccessAnyone &&
		orDefault(ns.HistoryAccess, herald.AccessSubscriber) != herald.AccessUser
}
