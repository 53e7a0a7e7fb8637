package job

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"strings"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/secret"
	"github.com/bulksync/bulksync/internal/storage"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// Connect says where a run's calls go and how they are paced.
type Connect struct {
	Region, Endpoint string
	TokenURL         string // Login with Amazon token endpoint
	Calls            worker.Config
	UserAgent        string
	// Emulate starts the emulator in this process, keeping its state in
	// EmulateState, and runs against it with its own token.
	Emulate      bool
	EmulateState string
	// SMAPI is the Skill Management API (in-skill products), which has one
	// host whatever the region.
	SMAPI bool
	// Secrets is told of the credentials as they are read and of every
	// token issued, and scrubs them from what the API answers.
	Secrets *secret.Scrubber
}

// Session is a client and the Caller its calls go through.
type Session struct {
	API    *client.Client
	Caller *worker.Caller
	// Store opens the files and URLs the run reads and writes; nil: a
	// plain one (local files, and URLs with the SDKs' defaults).
	Store *storage.Store
	// Emulated is set when the calls go to the emulator started in this
	// process (Connect.Emulate): its demo provider and vendor are the
	// defaults.
	Emulated bool
	close    func()
}

// store is the session's Store, made plain when it has none.
func (s *Session) store() *storage.Store {
	if s.Store == nil {
		s.Store = storage.New(storage.Options{})
	}
	return s.Store
}

// Close stops what the session started (the emulator of Connect.Emulate).
func (s *Session) Close() {
	if s.Store != nil {
		s.Store.Close()
	}
	if s.close != nil {
		s.close()
	}
}

// minRPS is one call a day: below it not even a run of two calls (a read
// and a write) could finish within a day.
const minRPS = 1.0 / (24 * 60 * 60)

// check refuses limits no run can work with, and an endpoint tokens can't
// travel to.
func (c Connect) check() error {
	p := c.Calls
	switch {
	case math.IsNaN(p.RPS) || math.IsInf(p.RPS, 0):
		return usage("--rps must be a finite number of calls per second, got %v", p.RPS)
	case p.RPS <= 0:
		return usage("--rps must be above 0, got %v", p.RPS)
	case p.RPS < minRPS:
		return usage("--rps %g is less than one call a day: no run could finish within a day", p.RPS)
	case p.Burst < 0:
		return usage("--burst must be 0 or more, got %d", p.Burst)
	case p.Concurrency < 1:
		return usage("--concurrency must be at least 1, got %d", p.Concurrency)
	case p.MaxAttempts < 1:
		return usage("--max-attempts must be at least 1, got %d", p.MaxAttempts)
	case p.RequestTimeout <= 0 || p.MaxBackoff <= 0 || p.MaxRetryAfter <= 0:
		return usage("--request-timeout, --max-backoff and --max-retry-after must be above 0")
	case c.Emulate && c.Endpoint != "":
		return usage("--emulate and --endpoint both given: --emulate runs against its own emulator")
	}
	if !c.Emulate {
		if _, err := client.Endpoint(c.Region, c.Endpoint); err != nil {
			return usage("--endpoint: %v", err)
		}
	}
	return nil
}

// Open checks the connection's limits and builds the client, its
// credentials (from env: never from flags, whose values show in ps) and the
// Caller; with Emulate, the emulator first.
func Open(c Connect, env map[string]string, log zerolog.Logger) (*Session, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.SMAPI {
		if c.Region != "" && c.Region != "NA" && c.Endpoint == "" {
			log.Warn().Str("region", c.Region).Msg("--region ignored: the Skill Management API has one host, api.amazonalexa.com")
		}
		c.Region = "NA"
	}
	s := &Session{Emulated: c.Emulate}
	endpoint := c.Endpoint
	var tokens *client.TokenSource
	if c.Emulate {
		token := "emulate." + randomHex(24)
		srv, err := emulator.Listen(emulator.Options{StateFile: c.EmulateState, StaticToken: token}, "127.0.0.1:0")
		if err != nil {
			return nil, usage("emulator: %v", err)
		}
		endpoint, tokens = srv.URL, client.StaticToken(token)
		c.Secrets.Add(token)
		s.close = func() {
			if err := srv.Close(); err != nil {
				log.Error().Err(err).Msg("emulator state not saved")
			}
		}
		log.Info().Str("endpoint", endpoint).Str("state", c.EmulateState).Msg("emulator started in this process")
	} else {
		var err error
		if tokens, err = credentials(env, c.TokenURL, c.Calls.RequestTimeout, c.Secrets); err != nil {
			return nil, err
		}
	}
	api, err := client.New(client.Options{Region: c.Region, Endpoint: endpoint, Token: tokens, UserAgent: c.UserAgent, Secrets: c.Secrets})
	if err != nil {
		s.close()
		return nil, &UsageError{err}
	}
	s.API = api
	c.Calls.Reauth, c.Calls.Log = tokens.Refreshable, log
	s.Caller = worker.New(c.Calls)
	// Remote files get the calls' timeout, back-off and attempts.
	s.Store = storage.New(storage.Options{Env: envFunc(env), Timeout: c.Calls.RequestTimeout,
		Retry: func(ctx context.Context, _ string, op func(context.Context) error) error {
			return s.Caller.Retry(ctx, op, storage.Temporary)
		}})
	return s, nil
}

const noCredentials = "no credentials: set BULKSYNC_ACCESS_TOKEN, or all of BULKSYNC_LWA_CLIENT_ID, " +
	"BULKSYNC_LWA_CLIENT_SECRET and BULKSYNC_LWA_REFRESH_TOKEN (each may instead be a file named by the " +
	"same variable with _FILE, e.g. BULKSYNC_LWA_CLIENT_SECRET_FILE); or try --emulate"

// credentials reads the token, or the LWA client, from the environment,
// telling secrets of each value.
func credentials(env map[string]string, tokenURL string, timeout time.Duration, secrets *secret.Scrubber) (*client.TokenSource, error) {
	tok, err := readSecret(env, "BULKSYNC_ACCESS_TOKEN")
	if err != nil {
		return nil, err
	}
	if tok != "" {
		secrets.Add(tok)
		return client.StaticToken(tok), nil
	}
	var lwa client.LWA
	var missing []string
	for _, v := range []struct {
		name string
		dst  *string
	}{{"BULKSYNC_LWA_CLIENT_ID", &lwa.ClientID}, {"BULKSYNC_LWA_CLIENT_SECRET", &lwa.ClientSecret}, {"BULKSYNC_LWA_REFRESH_TOKEN", &lwa.RefreshToken}} {
		val, err := readSecret(env, v.name)
		if err != nil {
			return nil, err
		}
		if v.name != "BULKSYNC_LWA_CLIENT_ID" {
			secrets.Add(val)
		}
		if val == "" {
			missing = append(missing, v.name)
		}
		*v.dst = val
	}
	switch len(missing) {
	case 0:
	case 3:
		return nil, usage("%s", noCredentials)
	default:
		return nil, usage("incomplete Login with Amazon credentials: %s not set (nor its _FILE variant)", strings.Join(missing, ", "))
	}
	if _, err := client.Endpoint("", tokenURL); err != nil {
		return nil, usage("token endpoint: %v", err)
	}
	lwa.TokenURL, lwa.Timeout, lwa.Secrets = tokenURL, timeout, secrets
	return client.RefreshToken(lwa), nil
}

// readSecret reads NAME, or the file named by NAME_FILE (readSecretFile).
// Errors name the variable and file, never the value.
func readSecret(env map[string]string, name string) (string, error) {
	if v := strings.TrimSpace(env[name]); v != "" {
		return v, nil
	}
	path := env[name+"_FILE"]
	if path == "" {
		return "", nil
	}
	b, err := readSecretFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", usage("%s_FILE: can't read %s: %v", name, path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", usage("%s_FILE: %s is empty", name, path)
	}
	return v, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
