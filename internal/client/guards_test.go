package client

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/secret"
)

// clock is a test's clock, shared by the emulator and the token source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// lwaClient starts the emulator and a client that gets its tokens from the
// emulator's token endpoint with the given client secret.
func lwaClient(t *testing.T, o emulator.Options, sent *secret.Scrubber, clientSecret string, now func() time.Time) (*Client, *emulator.Emulator) {
	t.Helper()
	e, err := emulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	refresh := o.RefreshToken
	if refresh == "" {
		refresh = emulator.DefaultRefreshToken
	}
	ts := RefreshToken(LWA{ClientID: emulator.DefaultClientID, ClientSecret: clientSecret, RefreshToken: refresh,
		TokenURL: srv.URL + "/auth/o2/token", Secrets: sent, Now: now})
	c, err := New(Options{Endpoint: srv.URL, Token: ts, Secrets: sent})
	if err != nil {
		t.Fatal(err)
	}
	return c, e
}

// leaks reports whether text holds any 12 bytes in a row of v: a secret
// cut where a message is clipped leaks as much as a whole one.
func leaks(text, v string) bool {
	for i := 0; i+12 <= len(v); i++ {
		if strings.Contains(text, v[i:i+12]) {
			return true
		}
	}
	return false
}

// A server that echoes what it was sent (the token form, the Authorization
// header) gets no secret the client holds into an error message, not even
// the part left where a long message is cut.
func TestEchoedSecretsNeverReachAMessage(t *testing.T) {
	clientSecret := "cs-" + strings.Repeat("0123456789abcdef", 25) // longer than an echo is cut to
	refresh := "Atzr|" + strings.Repeat("IwEBIKvR/+x=", 30)
	o := emulator.Options{EchoSecrets: true, ClientSecret: clientSecret, RefreshToken: refresh}
	sent := secret.New()
	ctx := context.Background()

	// The token endpoint refuses the client and echoes the form.
	c, _ := lwaClient(t, o, sent, clientSecret+"-wrong", nil)
	_, err := c.GetServiceProvider(ctx, "amzn1.comms.csp.id.p")
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("got %v, want the endpoint's refusal", err)
	}
	for name, v := range map[string]string{"client secret": clientSecret + "-wrong", "refresh token": refresh} {
		if leaks(err.Error(), v) {
			t.Errorf("the %s leaks into: %v", name, err)
		}
	}

	// The API refuses a call and echoes the Authorization header with the
	// token the endpoint issued.
	c, _ = lwaClient(t, o, sent, clientSecret, nil)
	_, err = c.GetServiceProvider(ctx, "amzn1.comms.csp.id.nobody")
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), secret.Redacted) {
		t.Fatalf("got %v, want a 404 with the echoed token redacted", err)
	}
	tok, _ := c.tokens.(*TokenSource).TokenContext(ctx)
	if leaks(err.Error(), tok.AccessToken) {
		t.Errorf("the access token leaks into: %v", err)
	}
}

// A token renewed 10 s before it expires, as oauth2 does, is renewed
// before every call when it lives 5 s: the margin is a tenth of its life.
func TestShortTokensLiveTheirLife(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)}
	c, e := lwaClient(t, emulator.Options{TokenTTL: 5 * time.Second, Now: clk.now}, nil, emulator.DefaultClientSecret, clk.now)
	ctx := context.Background()
	call := func() {
		t.Helper()
		if _, err := c.GetServiceProvider(ctx, emulator.DefaultProvider); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		call()
	}
	if got := e.Stats().Count("token", "200"); got != 1 {
		t.Errorf("20 calls within a 5 s token's life fetched %d tokens, want 1", got)
	}
	clk.add(4400 * time.Millisecond) // within the token's life, before its margin
	call()
	if got := e.Stats().Count("token", "200"); got != 1 {
		t.Errorf("at 4.4 s: %d tokens, want 1", got)
	}
	clk.add(200 * time.Millisecond) // 4.6 s: within the last tenth
	call()
	if got := e.Stats().Count("token", "200"); got != 2 {
		t.Errorf("at 4.6 s: %d tokens, want 2", got)
	}
	if got := e.Stats().Count("provider.get", "401"); got != 0 {
		t.Errorf("%d calls answered 401: a token was used past its life", got)
	}
	for _, tc := range []struct{ life, margin time.Duration }{{5 * time.Second, 500 * time.Millisecond}, {time.Hour, 10 * time.Second}, {time.Second, 100 * time.Millisecond}} {
		if got := earlyRefresh(tc.life); got != tc.margin {
			t.Errorf("earlyRefresh(%v): got %v, want %v", tc.life, got, tc.margin)
		}
	}
}

func TestEndpointRefusesAnEmptyPort(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		ok       bool
	}{
		{"http://127.0.0.1:", false},
		{"https://api.example.com:", false},
		{"http://127.0.0.1:8080", true},
		{"https://api.example.com", true},
	} {
		if _, err := Endpoint("", tc.endpoint); (err == nil) != tc.ok {
			t.Errorf("Endpoint(%q): err %v, want ok %v", tc.endpoint, err, tc.ok)
		}
	}
}

func TestClipEscapesThenCuts(t *testing.T) {
	if got := clip("\x1b" + strings.Repeat("x", 400)); len(got) > maxEcho+40 || got[:4] != `\x1b` {
		t.Errorf("clip: got %q, want the ESC escaped and the rest cut", got)
	}
	if got := snippet([]byte("<b>\x1b[2J</b>")); got != `<b>\x1b[2J</b>` {
		t.Errorf("snippet: got %q", got)
	}
}
