package client

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/bulksync/bulksync/internal/secret"
	"golang.org/x/oauth2"
)

// TokenSource is an oauth2.TokenSource that can be told its token was
// refused (a 401), so the next call fetches a fresh one, and whose fetches
// honour the caller's context.
type TokenSource struct {
	cfg     *oauth2.Config // nil for a static token
	hc      *http.Client   // the token endpoint's client
	fetch   chan struct{}  // one fetch at a time; waiters give up when their context ends
	now     func() time.Time
	secrets *secret.Scrubber // told of every token as it is issued

	mu      sync.Mutex
	refresh string // the newest refresh token: LWA may rotate it
	tok     *oauth2.Token
	// renew is when the token is due for renewal: its expiry on our own
	// clock, less a margin scaled to its lifetime.
	renew time.Time
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
	// Secrets, when set, is told of the client secret, the refresh token
	// and every token issued, and scrubs them from the token endpoint's
	// errors before they become messages (an endpoint may echo the form).
	Secrets *secret.Scrubber
	Now     func() time.Time // the clock tokens expire by (default time.Now)
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
	now := l.Now
	if now == nil {
		now = time.Now
	}
	l.Secrets.Add(l.ClientSecret, l.RefreshToken)
	return &TokenSource{cfg: cfg, hc: hc, fetch: make(chan struct{}, 1), refresh: l.RefreshToken, now: now, secrets: l.Secrets}
}

// earlyRefresh is how long before its expiry a token of the given lifetime
// is renewed: a tenth of its life, at most oauth2's 10 s. A fixed 10 s
// would renew a 5 s token before every call.
func earlyRefresh(lifetime time.Duration) time.Duration {
	return min(10*time.Second, lifetime/10)
}

// lifetime is how long a fresh token lives: what expires_in said or, for
// an endpoint that sends only an expiry, until then. Without either, oauth2
// would keep the token forever; LWA tokens live an hour, so it is renewed
// well before that.
func lifetime(tok *oauth2.Token) time.Duration {
	switch {
	case tok.ExpiresIn > 0:
		return time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		return time.Until(tok.Expiry)
	}
	return 50 * time.Minute
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
	asked := s.now() // the token's life is counted from before it was asked for
	// A new source per fetch: oauth2's own cache would hand back a token
	// the API has refused until that token's expiry.
	tok, err := s.cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, s.hc), &oauth2.Token{RefreshToken: refresh}).Token()
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx) // why it was cut short, not how
		}
		s.scrubRetrieve(err)
		return nil, err
	}
	s.secrets.Add(tok.AccessToken, tok.RefreshToken)
	life := lifetime(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok.RefreshToken != "" {
		s.refresh = tok.RefreshToken
	}
	s.tok, s.renew = tok, asked.Add(life-earlyRefresh(life))
	return tok, nil
}

// scrubRetrieve replaces the secrets in a token endpoint's error answer
// (its description, URI and body), which an endpoint may fill with the
// form it was posted: the client secret and the refresh token.
func (s *TokenSource) scrubRetrieve(err error) {
	var re *oauth2.RetrieveError
	if s.secrets == nil || !errors.As(err, &re) {
		return
	}
	re.ErrorDescription, re.ErrorURI = s.secrets.String(re.ErrorDescription), s.secrets.String(re.ErrorURI)
	re.Body = []byte(s.secrets.String(string(re.Body)))
}

func (s *TokenSource) cached() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken != "" && (s.cfg == nil || s.now().Before(s.renew)) {
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
