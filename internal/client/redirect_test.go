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
		if f := Classify(err); f.Retry || f.Auth || f.MayHaveApplied {
			t.Errorf("%d: classified %+v, want a plain failure", status, f)
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
	if f := Classify(err); f.Retry || f.Auth {
		t.Errorf("classified %+v: a redirecting token endpoint is neither worth retrying nor a refusal of the credentials", f)
	}
	if hits.Load() != 0 {
		t.Errorf("the grant was re-posted to the redirect's target")
	}
}

// Only a refused grant means refused credentials; a token endpoint that is
// down or throttling is retried like any call.
func TestTokenEndpointFailures(t *testing.T) {
	tests := []struct {
		status      int
		body        string
		retry, auth bool
	}{
		{400, `{"error":"invalid_grant","error_description":"the refresh token is not valid"}`, false, true},
		{401, `{"error":"invalid_client"}`, false, true},
		{429, `{"error":"slow_down"}`, true, false},
		{500, `oops`, true, false},
		{503, ``, true, false},
		{404, `not here`, false, false},
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
		if f := Classify(err); f.Retry != tt.retry || f.Auth != tt.auth || f.Type != "TOKEN" {
			t.Errorf("token endpoint %d: classified %+v, want retry %v, auth %v", tt.status, f, tt.retry, tt.auth)
		}
	}
	// No answer at all is worth retrying.
	ts := RefreshToken(LWA{ClientID: "id", ClientSecret: "s", RefreshToken: "r", TokenURL: "http://127.0.0.1:1/token"})
	_, err := ts.TokenContext(context.Background())
	if f := Classify(&TokenError{Err: err}); !f.Retry || f.Auth {
		t.Errorf("connection refused: classified %+v, want retry", f)
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
	if !strings.HasPrefix(Classify(err).Message, "éé") {
		t.Errorf("cut inside a rune: %.20q", Classify(err).Message)
	}
}

var _ oauth2.TokenSource = (*TokenSource)(nil)
