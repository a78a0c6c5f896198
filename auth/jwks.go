package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// errUnknownKID is a kid the key set does not hold, even after a refresh
// (or while refreshes are rate-limited).
var errUnknownKID = errors.New("unknown key id")

// jwksSource is a remote key set kept in memory. Its refresh goroutine is
// owned by the Verifier: Close cancels life and waits on wg.
//
// jwkset can refresh by itself, but its refresh goroutine cannot be waited
// for, and its refresh on an unknown kid makes callers wait for the rate
// limiter (a minute by default), which lets a flood of made-up kids pile up
// connections. So jwkset fetches and parses, keyfunc picks the key by kid,
// and the timing is ours.
type jwksSource struct {
	url       string
	client    *http.Client
	transport *http.Transport
	store     *jwkset.MemoryJWKSet
	kf        keyfunc.Keyfunc
	limiter   *rate.Limiter
	allowed   []string
	log       *slog.Logger

	life context.Context
	wg   sync.WaitGroup

	mu       sync.Mutex
	inflight chan struct{} // closed when the running unknown-kid fetch ends
}

func newJWKSSource(ctx, life context.Context, cfg Config, allowed []string) (*jwksSource, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	s := &jwksSource{
		url:       cfg.JWKSURL,
		transport: transport,
		client: &http.Client{
			Transport:     limitBody{transport},
			Timeout:       jwksFetchTimeout,
			CheckRedirect: noDowngrade,
		},
		store:   jwkset.NewMemoryStorage(),
		limiter: rate.NewLimiter(rate.Every(orDefault(cfg.JWKSMinRefreshInterval, defaultJWKSMinRefresh)), 1),
		allowed: allowed,
		log:     cfg.logger(),
		life:    life,
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Ctx:     life,
		Storage: refreshingStore{s.store, s},
		// A key published for encryption must not verify signatures; most
		// sets leave "use" out, which means either.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, err
	}
	s.kf = kf
	n, err := s.fetch(ctx)
	if err != nil {
		s.transport.CloseIdleConnections()
		return nil, err
	}
	if n == 0 {
		s.transport.CloseIdleConnections()
		return nil, fmt.Errorf("the key set has no key usable with %v", allowed)
	}
	s.wg.Add(1)
	go s.refreshLoop(orDefault(cfg.JWKSRefreshInterval, defaultJWKSRefresh))
	return s, nil
}

// fetch replaces the keys by those the URL serves now and returns how many
// of them could verify an allowed algorithm. On error the old keys stay.
func (s *jwksSource) fetch(ctx context.Context) (int, error) {
	st, err := jwkset.NewStorageFromHTTP(s.url, jwkset.HTTPClientStorageOptions{
		Client:      s.client,
		Ctx:         ctx,
		HTTPTimeout: jwksFetchTimeout,
	})
	if err != nil {
		return 0, fmt.Errorf("fetching the key set: %w", err)
	}
	set, err := st.KeyReadAll(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the key set: %w", err)
	}
	if err := s.store.KeyReplaceAll(ctx, set); err != nil {
		return 0, fmt.Errorf("storing the key set: %w", err)
	}
	n := 0
	for _, k := range set {
		if usable(k.Key(), s.allowed) {
			n++
		}
	}
	return n, nil
}

func usable(key any, allowed []string) bool {
	key = publicOf(key)
	for _, alg := range allowed {
		if keyFits(alg, key) {
			return true
		}
	}
	return false
}

func (s *jwksSource) refreshLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.life.Done():
			return
		case <-t.C:
			if _, err := s.fetch(s.life); err != nil && s.life.Err() == nil {
				s.log.Warn("auth: JWKS refresh failed; keeping the keys known so far",
					"url", redact(s.url), "error", err)
			}
		}
	}
}

// refreshUnknown fetches the key set again because a token named a kid it
// lacks, unless the limiter says one such fetch was done too recently.
// Callers that arrive during a fetch wait for it rather than start
// another. It reports whether a fetch happened.
func (s *jwksSource) refreshUnknown(ctx context.Context) bool {
	s.mu.Lock()
	if ch := s.inflight; ch != nil {
		s.mu.Unlock()
		select {
		case <-ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !s.limiter.Allow() {
		s.mu.Unlock()
		return false
	}
	ch := make(chan struct{})
	s.inflight = ch
	s.mu.Unlock()

	// The fetch runs under the Verifier's lifetime, not the caller's: a
	// client that hangs up must not abort it for those waiting on it.
	_, err := s.fetch(s.life)
	if err != nil && s.life.Err() == nil {
		s.log.Warn("auth: JWKS refresh for an unknown key id failed", "url", redact(s.url), "error", err)
	}

	s.mu.Lock()
	s.inflight = nil
	close(ch)
	s.mu.Unlock()
	return err == nil
}

// key returns the key set's candidates for token: the key its kid names,
// or every key meant for signing with its algorithm if it names none.
func (s *jwksSource) key(ctx context.Context, token *jwt.Token) (any, error) {
	if _, ok := token.Header[jwkset.HeaderKID]; !ok {
		// keyfunc would return every key here, even those whose "use" or
		// "alg" it checks when a kid picks them.
		set, err := s.store.KeyReadAll(ctx)
		if err != nil {
			return nil, err
		}
		var keep jwt.VerificationKeySet
		for _, k := range set {
			m := k.Marshal()
			if m.USE == jwkset.UseEnc || (m.ALG != "" && m.ALG.String() != token.Method.Alg()) {
				continue
			}
			keep.Keys = append(keep.Keys, k.Key())
		}
		return keep, nil
	}
	k, err := s.kf.KeyfuncCtx(ctx)(token)
	if errors.Is(err, jwkset.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %w", errUnknownKID, err)
	}
	return k, err
}

// refreshingStore is the store keyfunc reads, refreshing on a miss.
type refreshingStore struct {
	*jwkset.MemoryJWKSet
	src *jwksSource
}

func (r refreshingStore) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	k, err := r.MemoryJWKSet.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) || !r.src.refreshUnknown(ctx) {
		return k, err
	}
	return r.MemoryJWKSet.KeyRead(ctx, kid)
}

func (s *jwksSource) close() {
	s.wg.Wait()
	s.transport.CloseIdleConnections()
}

// limitBody caps the key set's size: jwkset decodes whatever it is sent.
type limitBody struct{ rt http.RoundTripper }

func (l limitBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxJWKSSize)
	return resp, nil
}

// noDowngrade follows a few redirects, but never from https to http.
func noDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("too many redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("refusing a redirect from https to http")
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.Redacted()
}
