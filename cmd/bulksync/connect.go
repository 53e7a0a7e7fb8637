package main

import (
	"math"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/job"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// connect checks the API flags and opens a session: the client, its
// credentials and the pool; with --emulate, the emulator first.
func connect(g *globals, f *apiFlags, log zerolog.Logger) (*job.Session, error) {
	if err := checkAPIFlags(f); err != nil {
		return nil, err
	}
	return job.Open(job.Connect{
		Region: f.Region, Endpoint: f.Endpoint, TokenURL: f.TokenURL, UserAgent: "bulksync/" + version(),
		Emulate: f.Emulate, EmulateState: f.EmulateState,
		Pool: worker.Config{RPS: f.RPS, Burst: f.Burst, Concurrency: f.Concurrency, MaxAttempts: f.MaxAttempts,
			MaxBackoff: f.MaxBackoff, MaxRetryAfter: f.MaxRetryAfter, RequestTimeout: f.RequestTimeout},
	}, g.env, log)
}

// minRPS is one call a day: below it not even a run of two calls (a read
// and a write) could finish within a day.
const minRPS = 1.0 / (24 * 60 * 60)

func checkAPIFlags(f *apiFlags) error {
	switch {
	case math.IsNaN(f.RPS) || math.IsInf(f.RPS, 0):
		return usageErr("--rps must be a finite number of calls per second, got %v", f.RPS)
	case f.RPS <= 0:
		return usageErr("--rps must be above 0, got %v", f.RPS)
	case f.RPS < minRPS:
		return usageErr("--rps %g is less than one call a day: no run could finish within a day", f.RPS)
	case f.Burst < 0:
		return usageErr("--burst must be 0 or more, got %d", f.Burst)
	case f.Concurrency < 1:
		return usageErr("--concurrency must be at least 1, got %d", f.Concurrency)
	case f.MaxAttempts < 1:
		return usageErr("--max-attempts must be at least 1, got %d", f.MaxAttempts)
	case f.RequestTimeout <= 0 || f.MaxBackoff <= 0 || f.MaxRetryAfter <= 0:
		return usageErr("--request-timeout, --max-backoff and --max-retry-after must be above 0")
	case f.Emulate && f.Endpoint != "":
		return usageErr("--emulate and --endpoint both given: --emulate runs against its own emulator")
	}
	if !f.Emulate {
		if _, err := client.Endpoint(f.Region, f.Endpoint); err != nil {
			return usageErr("--endpoint: %v", err)
		}
	}
	return nil
}
