package client

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// TokenSource is an oauth2.TokenSource that can be told its token was
// refused (a 401), so the next call fetches a fresh one, and whose fetches
// honour the caller's context.
type TokenSource struct {
	cfg   *oauth2.Config // nil for a static token
	hc    *http.Client   // the token endpoint's client
	fetch chan struct{}  // one fetch at a time; waiters give up when their context ends

	mu      sync.Mutex
	refresh string // the newest refresh token: LWA may rotate it
	tok     *oauth2.Token
}

// StaticToken is a ready access token with no way to refresh it.
func StaticToken(accessToken string) *TokenSource {
	return &TokenSource{tok: &oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}}
}

// LWA describes the Login with Amazon refresh-token grant.
type LWA struct {
	ClientID, ClientSecret, RefreshToken string
	TokenURL                             string
	Timeout                              time.Duration // one token request (default 30s)
	HTTPClient                           *http.Client  // optional base client
}

// RefreshToken returns a source that exchanges the refresh token for access
// tokens, refreshing before expiry and keeping a rotated refresh token. It
// never follows a redirect: the grant's form carries the client secret.
func RefreshToken(l LWA) *TokenSource {
	hc := &http.Client{Timeout: l.Timeout}
	if l.HTTPClient != nil {
		*hc = *l.HTTPClient
		if hc.Timeout == 0 {
			hc.Timeout = l.Timeout
		}
	}
	if hc.Timeout == 0 {
		hc.Timeout = 30 * time.Second
	}
	hc.CheckRedirect = refuseRedirect
	cfg := &oauth2.Config{
		ClientID:     l.ClientID,
		ClientSecret: l.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: l.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:       []string{"amazon_communication::service_provider"},
	}
	return &TokenSource{cfg: cfg, hc: hc, fetch: make(chan struct{}, 1), refresh: l.RefreshToken}
}

// Token is TokenContext with no deadline of its own, for oauth2.TokenSource.
func (s *TokenSource) Token() (*oauth2.Token, error) { return s.TokenContext(context.Background()) }

// TokenContext returns the cached token while it is valid, else a fresh
// one. A fetch, and the wait for another caller's fetch, end with ctx.
func (s *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	if tok := s.cached(); tok != nil {
		return tok, nil
	}
	if s.cfg == nil {
		return nil, errors.New("no access token")
	}
	select {
	case s.fetch <- struct{}{}:
		defer func() { <-s.fetch }()
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	if tok := s.cached(); tok != nil {
		return tok, nil // fetched by the caller we waited for
	}
	s.mu.Lock()
	refresh := s.refresh
	s.mu.Unlock()
	// A new source per fetch: oauth2's own cache would hand back a token
	// the API has refused until that token's expiry.
	tok, err := s.cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, s.hc), &oauth2.Token{RefreshToken: refresh}).Token()
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx) // why it was cut short, not how
		}
		return nil, err
	}
	if tok.Expiry.IsZero() {
		// Without expires_in oauth2 would keep the token forever; LWA tokens
		// live an hour, so refresh well before that.
		tok.Expiry = time.Now().Add(50 * time.Minute)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok.RefreshToken != "" {
		s.refresh = tok.RefreshToken
	}
	s.tok = tok
	return tok, nil
}

func (s *TokenSource) cached() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && (s.cfg == nil || s.tok.Valid()) {
		return s.tok
	}
	return nil
}

// Invalidate drops the cached token if it is still the one the API just
// refused, so the next call fetches a fresh one. Calls that failed with the
// same stale token all land here, and only the first causes a refresh.
func (s *TokenSource) Invalidate(accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != nil && s.tok != nil && s.tok.AccessToken == accessToken {
		s.tok = nil
	}
}

// Refreshable says whether a refused token can be replaced by a fresh one
// (a static token can't).
func (s *TokenSource) Refreshable() bool { return s.cfg != nil }
