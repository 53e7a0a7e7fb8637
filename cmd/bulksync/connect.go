package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/emulator"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// session is a client and the pool its calls go through.
type session struct {
	api      *client.Client
	pool     *worker.Pool
	emulated bool
	close    func()
}

// connect builds the client, its credentials and the pool; with --emulate
// it first starts the emulator in this process.
func connect(g *globals, f *apiFlags, log zerolog.Logger) (*session, error) {
	s := &session{close: func() {}}
	endpoint := f.Endpoint
	var tokens *client.TokenSource
	if f.Emulate {
		if f.Endpoint != "" {
			return nil, usageErr("--emulate and --endpoint both given: --emulate runs against its own emulator")
		}
		token := randomToken()
		e, err := emulator.New(emulator.Options{StateFile: f.EmulateState, StaticToken: token})
		if err != nil {
			return nil, usageErr("--emulate: %v", err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("--emulate: %w", err)
		}
		srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		endpoint = "http://" + ln.Addr().String()
		tokens = client.StaticToken(token)
		s.emulated = true
		s.close = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			if err := e.Close(); err != nil {
				log.Error().Err(err).Msg("emulator state not saved")
			}
		}
		log.Info().Str("endpoint", endpoint).Str("state", f.EmulateState).Msg("emulator started in this process")
	} else {
		var err error
		if tokens, err = credentials(g.env, f.TokenURL, f.RequestTimeout); err != nil {
			return nil, err
		}
	}
	api, err := client.New(client.Options{
		Region:    f.Region,
		Endpoint:  endpoint,
		Token:     tokens,
		UserAgent: "bulksync/" + version(),
	})
	if err != nil {
		s.close()
		return nil, usageErr("%v", err)
	}
	s.api = api
	s.pool = worker.New(worker.Config{
		RPS:            f.RPS,
		Burst:          f.Burst,
		Concurrency:    f.Concurrency,
		MaxAttempts:    f.MaxAttempts,
		MaxBackoff:     f.MaxBackoff,
		MaxRetryAfter:  f.MaxRetryAfter,
		RequestTimeout: f.RequestTimeout,
		Reauth:         tokens.Refreshable,
		Log:            log,
	})
	return s, nil
}

func checkAPIFlags(f *apiFlags) error {
	switch {
	case f.RPS <= 0:
		return usageErr("--rps must be above 0, got %v", f.RPS)
	case f.Burst < 0:
		return usageErr("--burst must be 0 or more, got %d", f.Burst)
	case f.Concurrency < 1:
		return usageErr("--concurrency must be at least 1, got %d", f.Concurrency)
	case f.MaxAttempts < 1:
		return usageErr("--max-attempts must be at least 1, got %d", f.MaxAttempts)
	case f.RequestTimeout <= 0 || f.MaxBackoff <= 0 || f.MaxRetryAfter <= 0:
		return usageErr("--request-timeout, --max-backoff and --max-retry-after must be above 0")
	}
	if !f.Emulate {
		if _, err := client.Endpoint(f.Region, f.Endpoint); err != nil {
			return usageErr("%v", err)
		}
	}
	return nil
}

const noCredentials = "no credentials: set BULKSYNC_ACCESS_TOKEN, or all of BULKSYNC_LWA_CLIENT_ID, " +
	"BULKSYNC_LWA_CLIENT_SECRET and BULKSYNC_LWA_REFRESH_TOKEN (each may instead be a file named by the " +
	"same variable with _FILE, e.g. BULKSYNC_LWA_CLIENT_SECRET_FILE); or try --emulate"

// credentials reads the token or the LWA client from the environment. Never
// from flags: a flag's value shows in ps.
func credentials(e env, tokenURL string, timeout time.Duration) (*client.TokenSource, error) {
	get := func(name string) (string, error) { return secret(e, name) }
	tok, err := get("BULKSYNC_ACCESS_TOKEN")
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
		val, err := get(v.name)
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
		return nil, usageErr("%s", noCredentials)
	default:
		return nil, usageErr("incomplete Login with Amazon credentials: %s not set (nor its _FILE variant)", strings.Join(missing, ", "))
	}
	if _, err := client.Endpoint("", tokenURL); err != nil {
		return nil, usageErr("--token-url: %v", err)
	}
	lwa.TokenURL, lwa.Timeout = tokenURL, timeout
	return client.RefreshToken(lwa), nil
}

// secret reads NAME, or the file named by NAME_FILE. Errors name the
// variable and file, never the value.
func secret(e env, name string) (string, error) {
	if v := strings.TrimSpace(e[name]); v != "" {
		return v, nil
	}
	path := e[name+"_FILE"]
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", usageErr("%s_FILE: can't read %s: %v", name, path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", usageErr("%s_FILE: %s is empty", name, path)
	}
	return v, nil
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "emulate." + hex.EncodeToString(b)
}
