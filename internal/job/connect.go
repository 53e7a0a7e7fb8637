package job

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// Connect says where a run's calls go and how they are paced.
type Connect struct {
	Region, Endpoint string
	TokenURL         string // Login with Amazon token endpoint
	Pool             worker.Config
	UserAgent        string
	// Emulate starts the emulator in this process, keeping its state in
	// EmulateState, and runs against it with its own token.
	Emulate      bool
	EmulateState string
}

// Session is a client and the pool its calls go through.
type Session struct {
	API    *client.Client
	Caller *worker.Caller
	close  func()
}

// Close stops what the session started (the emulator of Connect.Emulate).
func (s *Session) Close() { s.close() }

// Open builds the client, its credentials (from env: never from flags,
// whose values show in ps) and the pool.
func Open(c Connect, env map[string]string, log zerolog.Logger) (*Session, error) {
	s := &Session{close: func() {}}
	endpoint := c.Endpoint
	var tokens *client.TokenSource
	if c.Emulate {
		if c.Endpoint != "" {
			return nil, usage("an emulated run has its own endpoint: give no endpoint with it")
		}
		token := "emulate." + randomHex(24)
		srv, err := emulator.Listen(emulator.Options{StateFile: c.EmulateState, StaticToken: token}, "127.0.0.1:0")
		if err != nil {
			return nil, usage("emulator: %v", err)
		}
		endpoint, tokens = srv.URL, client.StaticToken(token)
		s.close = func() {
			if err := srv.Close(); err != nil {
				log.Error().Err(err).Msg("emulator state not saved")
			}
		}
		log.Info().Str("endpoint", endpoint).Str("state", c.EmulateState).Msg("emulator started in this process")
	} else {
		var err error
		if tokens, err = credentials(env, c.TokenURL, c.Pool.RequestTimeout); err != nil {
			return nil, err
		}
	}
	api, err := client.New(client.Options{Region: c.Region, Endpoint: endpoint, Token: tokens, UserAgent: c.UserAgent})
	if err != nil {
		s.close()
		return nil, &UsageError{err}
	}
	s.API = api
	c.Pool.Reauth, c.Pool.Log = tokens.Refreshable, log
	s.Caller = worker.New(c.Pool)
	return s, nil
}

const noCredentials = "no credentials: set BULKSYNC_ACCESS_TOKEN, or all of BULKSYNC_LWA_CLIENT_ID, " +
	"BULKSYNC_LWA_CLIENT_SECRET and BULKSYNC_LWA_REFRESH_TOKEN (each may instead be a file named by the " +
	"same variable with _FILE, e.g. BULKSYNC_LWA_CLIENT_SECRET_FILE); or try --emulate"

// credentials reads the token, or the LWA client, from the environment.
func credentials(env map[string]string, tokenURL string, timeout time.Duration) (*client.TokenSource, error) {
	tok, err := secret(env, "BULKSYNC_ACCESS_TOKEN")
	if err != nil {
		return nil, err
	}
	if tok != "" {
		return client.StaticToken(tok), nil
	}
	var lwa client.LWA
	var missing []string
	for _, v := range []struct {
		name string
		dst  *string
	}{{"BULKSYNC_LWA_CLIENT_ID", &lwa.ClientID}, {"BULKSYNC_LWA_CLIENT_SECRET", &lwa.ClientSecret}, {"BULKSYNC_LWA_REFRESH_TOKEN", &lwa.RefreshToken}} {
		val, err := secret(env, v.name)
		if err != nil {
			return nil, err
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
	lwa.TokenURL, lwa.Timeout = tokenURL, timeout
	return client.RefreshToken(lwa), nil
}

// secret reads NAME, or the file named by NAME_FILE. Errors name the
// variable and file, never the value.
func secret(env map[string]string, name string) (string, error) {
	if v := strings.TrimSpace(env[name]); v != "" {
		return v, nil
	}
	path := env[name+"_FILE"]
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
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
