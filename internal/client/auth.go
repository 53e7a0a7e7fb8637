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
// refused (a 401), so the next call fetches a fresh one.
type TokenSource struct {
	cfg     *oauth2.Config  // nil for a static token
	ctx     context.Context // carries the token endpoint's HTTP client
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
// tokens, refreshing before expiry and keeping a rotated refresh token.
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
	cfg := &oauth2.Config{
		ClientID:     l.ClientID,
		ClientSecret: l.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: l.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		Scopes:       []string{"amazon_communication::service_provider"},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	return &TokenSource{cfg: cfg, ctx: ctx, refresh: l.RefreshToken}
}

// Token returns the cached token while it is valid, else a fresh one.
func (s *TokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && (s.cfg == nil || s.tok.Valid()) {
		return s.tok, nil
	}
	if s.cfg == nil {
		return nil, errors.New("no access token")
	}
	// A new source per fetch: oauth2's own cache would hand back a token
	// the API has refused until that token's expiry.
	tok, err := s.cfg.TokenSource(s.ctx, &oauth2.Token{RefreshToken: s.refresh}).Token()
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken != "" {
		s.refresh = tok.RefreshToken
	}
	if tok.Expiry.IsZero() {
		// Without expires_in oauth2 would keep the token forever; LWA tokens
		// live an hour, so refresh well before that.
		tok.Expiry = time.Now().Add(50 * time.Minute)
	}
	s.tok = tok
	return tok, nil
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
