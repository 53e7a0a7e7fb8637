package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// elsewhere is a server a redirect points at; it counts what reaches it.
func elsewhere(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// An API answer that redirects is a failed call naming where it led; the
// credentials never travel there, and a 302'd create never becomes a GET
// whose 200 passes for success.
func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		other, hits := elsewhere(t)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/steal?token=x", status)
		}))
		c, _ := New(Options{Endpoint: srv.URL, Token: StaticToken("secret-token")})
		err := c.CreateAssociation(context.Background(), "amzn1.comms.csp.id.p", assoc("1", "amzn1.x"))
		srv.Close()
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != status || ae.Type != "REDIRECT" || !strings.Contains(ae.Message, other.URL) ||
			strings.Contains(ae.Message, "token=x") {
			t.Errorf("%d: got %v, want a REDIRECT naming %s by host only", status, err, other.URL)
		}
		if ae.Unexpected || ae.Refused {
			t.Errorf("%d: got %+v, want a plain refusal", status, ae)
		}
		if hits.Load() != 0 {
			t.Errorf("%d: the redirect was followed", status)
		}
	}
}

// The token grant's form carries the client secret and refresh token: it
// is never re-posted to where the token endpoint redirects.
func TestTokenEndpointRedirectIsNotFollowed(t *testing.T) {
	other, hits := elsewhere(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/auth/o2/token", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	ts := RefreshToken(LWA{ClientID: "id", ClientSecret: "the-secret", RefreshToken: "Atzr|refresh", TokenURL: srv.URL + "/auth/o2/token"})
	c, _ := New(Options{Endpoint: srv.URL, Token: ts})
	_, err := c.GetServiceProvider(context.Background(), "amzn1.comms.csp.id.p")
	var te *TokenError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "a redirect to "+other.URL) || strings.Contains(err.Error(), "the-secret") {
		t.Fatalf("got %v, want a token error naming the redirect", err)
	}
	if te.Status() != http.StatusTemporaryRedirect || te.Code() != "" {
		t.Errorf("got status %d, code %q: want the redirect's status and no OAuth error code", te.Status(), te.Code())
	}
	if hits.Load() != 0 {
		t.Errorf("the grant was re-posted to the redirect's target")
	}
}

// A token endpoint's refusal carries its status and OAuth error code: what
// they mean to a run is the worker's to say (worker.Classify).
func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		status int
		body   string
		code   string
	}{
		{400, `{"error":"invalid_grant","error_description":"the refresh token is not valid"}`, "invalid_grant"},
		{401, `{"error":"invalid_client"}`, "invalid_client"},
		{429, `{"error":"slow_down"}`, "slow_down"},
		{500, `oops`, ""},
		{503, ``, ""},
		{404, `not here`, ""},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tt.status)
			w.Write([]byte(tt.body))
		}))
		ts := RefreshToken(LWA{ClientID: "id", ClientSecret: "the-secret", RefreshToken: "r", TokenURL: srv.URL})
		c, _ := New(Options{Endpoint: srv.URL, Token: ts})
		_, err := c.GetServiceProvider(context.Background(), "amzn1.comms.csp.id.p")
		srv.Close()
		var te *TokenError
		if !errors.As(err, &te) || te.Status() != tt.status || te.Code() != tt.code {
			t.Errorf("token endpoint %d: got %v, want a token error with status %d and code %q", tt.status, err, tt.status, tt.code)
		}
	}
	// No answer at all has no status.
	ts := RefreshToken(LWA{ClientID: "id", ClientSecret: "s", RefreshToken: "r", TokenURL: "http://127.0.0.1:1/token"})
	_, err := ts.TokenContext(context.Background())
	if te := (&TokenError{Err: err}); te.Status() != 0 {
		t.Errorf("connection refused: status %d, want 0", te.Status())
	}
}

// A token fetch, and the wait for another caller's fetch, end when the
// run does; a request in flight still gets its own timeout.
func TestTokenFetchHonoursTheRun(t *testing.T) {
	arrived := make(chan struct{}, 8)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select { // a token endpoint that hangs
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ts := RefreshToken(LWA{ClientID: "id", ClientSecret: "s", RefreshToken: "r", TokenURL: srv.URL, Timeout: time.Hour})
	c, _ := New(Options{Endpoint: srv.URL, Token: ts})
	run, stop := context.WithCancelCause(context.Background())
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			actx, cancel := AttemptContext(run, time.Hour)
			defer cancel()
			_, err := c.GetServiceProvider(actx, "amzn1.comms.csp.id.p")
			errs <- err
		}()
	}
	<-arrived // one fetch in flight, the other caller waiting for it
	stop(errors.New("SIGTERM"))
	for range 2 {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "SIGTERM") {
			t.Errorf("got %v, want the fetch ended by the run's end", err)
		}
	}
	if n := len(arrived); n != 0 {
		t.Errorf("%d more token requests after the run ended", n)
	}
}

func TestEchoesAreCut(t *testing.T) {
	long := strings.Repeat("é", 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		w.Write([]byte(`{"type":"BAD_REQUEST","message":"` + long + `"}`))
	}))
	defer srv.Close()
	c, _ := New(Options{Endpoint: srv.URL})
	err := c.DeleteAssociation(context.Background(), "amzn1.comms.csp.id.p", "1")
	if len(err.Error()) > 600 || !strings.Contains(err.Error(), "more bytes)") {
		t.Errorf("error of %d bytes: %.100s…", len(err.Error()), err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || !strings.HasPrefix(ae.Message, "éé") || !utf8.ValidString(ae.Message) {
		t.Errorf("cut inside a rune: %v", err)
	}
}

var _ oauth2.TokenSource = (*TokenSource)(nil)
