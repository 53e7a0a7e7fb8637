package job

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// Open: the limits a run can work with, and credentials from the
// environment, never printed.

func TestOpenRefusesLimits(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Connect)
		want string
	}{
		{"rps not a number", func(c *Connect) { c.Calls.RPS = math.NaN() }, "--rps must be a finite number of calls per second, got NaN"},
		{"rps infinite", func(c *Connect) { c.Calls.RPS = math.Inf(1) }, "--rps must be a finite number"},
		{"rps 0", func(c *Connect) { c.Calls.RPS = 0 }, "--rps must be above 0, got 0"},
		{"rps under a call a day", func(c *Connect) { c.Calls.RPS = 1e-6 }, "--rps 1e-06 is less than one call a day"},
		{"burst", func(c *Connect) { c.Calls.Burst = -1 }, "--burst must be 0 or more, got -1"},
		{"concurrency", func(c *Connect) { c.Calls.Concurrency = 0 }, "--concurrency must be at least 1, got 0"},
		{"attempts", func(c *Connect) { c.Calls.MaxAttempts = 0 }, "--max-attempts must be at least 1, got 0"},
		{"timeout", func(c *Connect) { c.Calls.RequestTimeout = 0 }, "--request-timeout, --max-backoff and --max-retry-after must be above 0"},
		{"emulate and an endpoint", func(c *Connect) { c.Emulate = true }, "--emulate and --endpoint both given"},
		{"plain http elsewhere", func(c *Connect) { c.Endpoint = "http://api.example.com" }, "--endpoint: endpoint \"http://api.example.com\": plain http is allowed only to a loopback host"},
		{"no such region", func(c *Connect) { c.Endpoint, c.Region = "", "MARS" }, `--endpoint: unknown region "MARS"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Connect{Endpoint: "http://127.0.0.1:1", Calls: fastCalls()}
			tt.edit(&c)
			s, err := Open(c, map[string]string{"BULKSYNC_ACCESS_TOKEN": apiToken}, zerolog.Nop())
			if s != nil || err == nil || !strings.Contains(err.Error(), tt.want) || VerdictOf(err) != Usage {
				t.Errorf("got %v, %v; want a usage error saying %q", s, err, tt.want)
			}
		})
	}
}

// getProvider makes one call with the session: the demo provider, by
// provider get.
func getProvider(s *Session) (string, error) {
	var st streams
	_, err := Manage(context.Background(), s, ManageOptions{Op: "provider.get", ID: demo, IO: st.io()})
	return st.stdout.String(), err
}

func TestOpenCredentials(t *testing.T) {
	a := newAPI(t, emulator.Options{})
	const secret = "the-client-secret-value"
	tokenURL := a.url + "/auth/o2/token"
	lwa := map[string]string{"BULKSYNC_LWA_CLIENT_ID": emulator.DefaultClientID, "BULKSYNC_LWA_CLIENT_SECRET": emulator.DefaultClientSecret,
		"BULKSYNC_LWA_REFRESH_TOKEN": emulator.DefaultRefreshToken}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tokenFile := writeFile(t, a.dir, "token", "\n  "+apiToken+"\n")
	secretFile := writeFile(t, a.dir, "secret", emulator.DefaultClientSecret+"\n")
	empty := writeFile(t, a.dir, "empty", "  \n")
	tests := []struct {
		name     string
		env      map[string]string
		tokenURL string
		// refresh is whether a refused token can be replaced (a static
		// one the emulator never refuses); err the usage error Open ends
		// with.
		refresh bool
		err     string
	}{
		{name: "an access token", env: map[string]string{"BULKSYNC_ACCESS_TOKEN": apiToken}},
		{name: "an access token from a file", env: map[string]string{"BULKSYNC_ACCESS_TOKEN_FILE": tokenFile}},
		{name: "the variable wins over its file", env: map[string]string{"BULKSYNC_ACCESS_TOKEN": apiToken, "BULKSYNC_ACCESS_TOKEN_FILE": empty}},
		{name: "a Login with Amazon client", env: lwa, tokenURL: tokenURL, refresh: true},
		{name: "its secret from a file", env: with(lwa, "BULKSYNC_LWA_CLIENT_SECRET", "", "BULKSYNC_LWA_CLIENT_SECRET_FILE", secretFile),
			tokenURL: tokenURL, refresh: true},
		{name: "none", env: map[string]string{}, err: "no credentials: set BULKSYNC_ACCESS_TOKEN, or all of"},
		{name: "part of a client", env: map[string]string{"BULKSYNC_LWA_CLIENT_ID": "id", "BULKSYNC_LWA_CLIENT_SECRET": secret},
			err: "incomplete Login with Amazon credentials: BULKSYNC_LWA_REFRESH_TOKEN not set (nor its _FILE variant)"},
		{name: "a file that is not there", env: map[string]string{"BULKSYNC_ACCESS_TOKEN_FILE": filepath.Join(a.dir, "none")},
			err: "BULKSYNC_ACCESS_TOKEN_FILE: can't read " + filepath.Join(a.dir, "none") + ": no such file or directory"},
		{name: "an empty file", env: map[string]string{"BULKSYNC_ACCESS_TOKEN_FILE": empty}, err: "BULKSYNC_ACCESS_TOKEN_FILE: " + empty + " is empty"},
		{name: "a secret's file that is a folder", env: with(lwa, "BULKSYNC_LWA_CLIENT_SECRET", "", "BULKSYNC_LWA_CLIENT_SECRET_FILE", a.dir),
			err: "BULKSYNC_LWA_CLIENT_SECRET_FILE: can't read " + a.dir + ": not a regular file (a directory)"},
		{name: "a token endpoint tokens can't travel to", env: with(lwa, "BULKSYNC_LWA_CLIENT_SECRET", secret), tokenURL: "http://lwa.example.com/token",
			err: "token endpoint: endpoint \"http://lwa.example.com/token\": plain http is allowed only to a loopback host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(Connect{Endpoint: a.url, TokenURL: tt.tokenURL, Calls: fastCalls()}, tt.env, zerolog.Nop())
			if tt.err != "" {
				if s != nil || err == nil || err.Error() != tt.err && !strings.HasPrefix(err.Error(), tt.err) || VerdictOf(err) != Usage {
					t.Fatalf("got %v, %v; want a usage error %q", s, err, tt.err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error prints a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Emulated {
				t.Errorf("a session on an endpoint says it is emulated")
			}
			out, err := getProvider(s)
			if err != nil || !strings.Contains(out, `"serviceProviderId": "`+demo+`"`) {
				t.Errorf("a call with these credentials: %v\n%s", err, out)
			}
			if !tt.refresh {
				return
			}
			// A token the API refuses is replaced, within the call.
			a.RevokeTokens()
			a.ResetStats()
			if _, err := getProvider(s); err != nil || a.Stats().Count("token", "200") != 1 || a.Stats().Count("provider.get", "401") != 1 {
				t.Errorf("after the tokens were revoked: %v, calls %v; want one 401, a fresh token and the call made", err, a.Stats().Calls)
			}
		})
	}
}

// The Skill Management API has one host: a region given with it is
// ignored, and said so.
func TestOpenSMAPIIgnoresTheRegion(t *testing.T) {
	var log lockedBuffer
	s, err := Open(Connect{Region: "EU", SMAPI: true, Calls: fastCalls()}, map[string]string{"BULKSYNC_ACCESS_TOKEN": apiToken}, zerolog.New(&log))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(log.String(), `"region":"EU","message":"--region ignored: the Skill Management API has one host, api.amazonalexa.com"`) {
		t.Errorf("log: %s", log.String())
	}
}

// --emulate starts an emulator of the process's own, whose state a second
// session sees; a state file it can't read is a usage error.
func TestOpenEmulate(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "emulator.json")
	s, err := Open(Connect{Emulate: true, EmulateState: state, Calls: fastCalls()}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Emulated || s.Caller.Rate() != fastCalls().RPS {
		t.Errorf("session: emulated %v, rate %v", s.Emulated, s.Caller.Rate())
	}
	if out, err := getProvider(s); err != nil || !strings.Contains(out, demo) {
		t.Errorf("provider get on the emulator: %v\n%s", err, out)
	}
	s.Close()
	if _, err := os.Stat(state); err != nil {
		t.Errorf("state not saved: %v", err)
	}
	bad := writeFile(t, dir, "bad.json", "{not json")
	if s, err := Open(Connect{Emulate: true, EmulateState: bad, Calls: fastCalls()}, nil, zerolog.Nop()); s != nil || err == nil ||
		!strings.HasPrefix(err.Error(), "emulator: ") || VerdictOf(err) != Usage {
		t.Errorf("a state file that is not one: %v, %v", s, err)
	}
}

// Session.Close of a session that started nothing is a no-op; the default
// limits are the worker's.
func TestSessionWithoutEmulator(t *testing.T) {
	s := &Session{Caller: worker.New(worker.Config{RequestTimeout: time.Second})}
	s.Close()
	if s.Caller.Rate() != 10 {
		t.Errorf("default rate: %v, want 10", s.Caller.Rate())
	}
}
