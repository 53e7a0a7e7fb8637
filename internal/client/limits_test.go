package client

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An answer is read up to maxBody and no further: a body over the cap is
// refused whole, even when it is valid JSON the call would accept, and one
// at the cap is read as usual.
func TestAnswerCap(t *testing.T) {
	provider := []byte(`{"serviceProviderId":"amzn1.comms.csp.id.demo","serviceProviderLogicalId":"demo"}`)
	for _, tt := range []struct {
		name string
		size int // of the whole body: the JSON, padded with spaces
		want string
	}{
		{"at the cap", maxBody, ""},
		{"one byte over", maxBody + 1, "answer larger than 4194304 bytes"},
		{"far over", 3 * maxBody, "answer larger than 4194304 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := append(bytes.Clone(provider), bytes.Repeat([]byte(" "), tt.size-len(provider))...)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			c, err := New(Options{Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.GetServiceProvider(context.Background(), "amzn1.comms.csp.id.demo")
			switch {
			case tt.want == "" && (err != nil || p.ServiceProviderLogicalID != "demo"):
				t.Errorf("got %+v, %v; want the provider read", p, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %+v, %v; want an error saying %q", p, err, tt.want)
			}
		})
	}
}

// A token answered without expires_in gets an expiry of its own, within
// the hour LWA tokens live: oauth2 would otherwise hold it as valid for
// ever, and every call after the hour would be refused until a 401.
func TestTokenWithoutExpiresInExpires(t *testing.T) {
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"Atza|no-expiry","token_type":"bearer"}`))
	}))
	defer srv.Close()
	ts := RefreshToken(LWA{ClientID: "id", ClientSecret: "s", RefreshToken: "r", TokenURL: srv.URL})
	before := time.Now()
	tok, err := ts.TokenContext(context.Background())
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "Atza|no-expiry" {
		t.Fatalf("token: got %q", tok.AccessToken)
	}
	// The expiry is set from the clock read at the fetch: between the
	// clock before and after it, plus 50 minutes.
	if lo, hi := before.Add(50*time.Minute), after.Add(50*time.Minute); tok.Expiry.Before(lo) || tok.Expiry.After(hi) {
		t.Errorf("expiry: got %v, want between %v and %v (50 minutes after the fetch)", tok.Expiry, lo, hi)
	}
	// Until then the token is reused.
	if again, err := ts.TokenContext(context.Background()); err != nil || again.AccessToken != tok.AccessToken || fetches.Load() != 1 {
		t.Errorf("second ask: got %v, %v after %d fetches; want the cached token and 1 fetch", again, err, fetches.Load())
	}
	// Once it has expired, the next ask fetches a new one.
	ts.mu.Lock()
	ts.tok.Expiry = time.Now().Add(-time.Second)
	ts.mu.Unlock()
	if _, err := ts.TokenContext(context.Background()); err != nil || fetches.Load() != 2 {
		t.Errorf("after expiry: %v after %d fetches, want a second fetch", err, fetches.Load())
	}
}
