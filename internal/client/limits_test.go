package client

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// A token answered without expires_in gets a life of its own, within the
// hour LWA tokens live: oauth2 would otherwise hold it as valid for ever,
// and every call after the hour would be refused until a 401.
func TestTokenWithoutExpiresInExpires(t *testing.T) {
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"Atza|no-expiry","token_type":"bearer"}`))
	}))
	defer srv.Close()
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	at := func(d time.Duration) { mu.Lock(); now = start.Add(d); mu.Unlock() }
	ts := RefreshToken(LWA{ClientID: "id", ClientSecret: "s", RefreshToken: "r", TokenURL: srv.URL, Now: clock})
	tok, err := ts.TokenContext(context.Background())
	if err != nil || tok.AccessToken != "Atza|no-expiry" {
		t.Fatalf("token: got %v, %v", tok, err)
	}
	// It lives 50 minutes, renewed its last 10 seconds early.
	for _, tc := range []struct {
		at      time.Duration
		fetches int32
	}{{time.Minute, 1}, {50*time.Minute - 11*time.Second, 1}, {50*time.Minute - 9*time.Second, 2}} {
		at(tc.at)
		if _, err := ts.TokenContext(context.Background()); err != nil || fetches.Load() != tc.fetches {
			t.Errorf("at %v: %v after %d fetches, want %d", tc.at, err, fetches.Load(), tc.fetches)
		}
	}
}
