// Package worker is the one pool every API call goes through: a bounded
// number in flight, one shared token bucket that adapts to 429s, and retries
// with exponential back-off and full jitter. It knows which failures are
// worth retrying, not what a call means.
package worker

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Config sets the pool's limits.
type Config struct {
	RPS            float64       // most calls started per second, retries included
	Burst          int           // token bucket size (default: RPS)
	Concurrency    int           // most calls in flight
	MaxAttempts    int           // per call, the first included
	BaseBackoff    time.Duration // first back-off cap (default 200ms)
	MaxBackoff     time.Duration // cap of one computed back-off
	MaxRetryAfter  time.Duration // longest Retry-After honoured as given
	RequestTimeout time.Duration // one attempt
	// Reauth is asked on a 401 whether a retry may help: true when the
	// credentials can fetch a fresh token (the client has already dropped
	// the refused one). One such retry per call.
	Reauth func() bool
	Log    zerolog.Logger
}

// Result is how one call went.
type Result struct {
	Attempts int
	Duration time.Duration
	Err      error // the last attempt's error; nil on success
	// Interrupted is set when the run's context ended before the call could
	// finish its attempts; Err then holds the last failure, if any.
	Interrupted bool
}

// Stats counts calls by kind, retries and throttled answers.
type Stats struct {
	Calls     map[string]int `json:"calls"`
	Statuses  map[string]int `json:"statuses"` // "kind status" -> count; status 2xx, an HTTP error, or none (no answer)
	Retries   int            `json:"retries"`
	Throttled int            `json:"throttled"`
}

type callStatus struct{ kind, status string }

// Pool runs calls under the configured limits. Use one per process.
type Pool struct {
	cfg Config
	lim *rate.Limiter
	g   errgroup.Group

	mu       sync.Mutex
	stats    Stats
	statuses map[callStatus]int
	rate     float64 // current limit, lowered by 429s
	lastDown time.Time
	lastUp   time.Time
	now      func() time.Time
	// Successes per second, measured over windows of at least a second:
	// what the server accepted lately, the rate to fall back to on a 429.
	winStart time.Time
	winOK    int
	goodput  float64
}

// New builds a pool; zero fields get the SPEC's defaults.
func New(cfg Config) *Pool {
	if cfg.RPS <= 0 {
		cfg.RPS = 10
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.RPS)))
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 60 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	p := &Pool{
		cfg:      cfg,
		lim:      rate.NewLimiter(rate.Limit(cfg.RPS), cfg.Burst),
		rate:     cfg.RPS,
		now:      time.Now,
		stats:    Stats{Calls: map[string]int{}},
		statuses: map[callStatus]int{},
	}
	p.winStart = p.now()
	p.g.SetLimit(cfg.Concurrency)
	return p
}

// Go runs task in the pool, waiting for a free slot. It returns false,
// without running task, when ctx has ended: errgroup's Go would otherwise
// wait for a slot even after the run was told to stop.
func (p *Pool) Go(ctx context.Context, task func()) bool {
	if ctx.Err() != nil {
		return false
	}
	p.g.Go(func() error { task(); return nil })
	return true
}

// Wait waits for every task started with Go.
func (p *Pool) Wait() { _ = p.g.Wait() }

// Stats returns a copy of the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Calls: map[string]int{}, Statuses: map[string]int{}, Retries: p.stats.Retries, Throttled: p.stats.Throttled}
	for k, v := range p.stats.Calls {
		s.Calls[k] = v
	}
	for k, v := range p.statuses {
		s.Statuses[k.kind+" "+k.status] = v
	}
	return s
}

// Rate returns the limiter's current rate.
func (p *Pool) Rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// Do makes one call of the given kind, retrying what is worth retrying. The
// rate limiter is waited on before every attempt. Once ctx ends no new
// attempt starts, but an attempt in flight runs to its own timeout: a write
// half-sent is better answered than abandoned.
func (p *Pool) Do(ctx context.Context, kind string, call func(context.Context) error) Result {
	start := time.Now()
	var res Result
	reauthed := false
	for attempt := 1; ; attempt++ {
		if err := p.lim.Wait(ctx); err != nil {
			res.Interrupted = true
			break
		}
		actx, cancel := client.AttemptContext(ctx, p.cfg.RequestTimeout)
		err := call(actx)
		cancel()
		res.Attempts = attempt
		res.Err = err
		p.count(kind, err)
		if err == nil {
			p.raise()
			break
		}
		f := client.Classify(err)
		if f.Status == 401 && !reauthed && p.cfg.Reauth != nil && p.cfg.Reauth() {
			reauthed = true
			p.retried()
			continue
		}
		p.cfg.Log.Debug().Str("op", kind).Int("status", f.Status).Int("attempt", attempt).Bool("retry", f.Retry && attempt < p.cfg.MaxAttempts).
			Int64("duration_ms", time.Since(start).Milliseconds()).Err(err).Msg("call failed")
		if !f.Retry || attempt >= p.cfg.MaxAttempts {
			break
		}
		if f.Throttled {
			p.lower()
		}
		p.retried()
		if !sleep(ctx, p.backoff(attempt, f.RetryAfter)) {
			res.Interrupted = true
			break
		}
	}
	res.Duration = time.Since(start)
	return res
}

// backoff is full jitter over an exponential cap, but never less than the
// server's Retry-After (itself capped, so a confused server can't park us).
func (p *Pool) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceiling := p.cfg.BaseBackoff << min(attempt-1, 30)
	if ceiling <= 0 || ceiling > p.cfg.MaxBackoff {
		ceiling = p.cfg.MaxBackoff
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return max(d, min(retryAfter, p.cfg.MaxRetryAfter))
}

// Pause waits the back-off of the given attempt (1 for the first retry),
// for waits that are not a call's own retries; false when ctx ended first.
func (p *Pool) Pause(ctx context.Context, attempt int) bool {
	return sleep(ctx, p.backoff(attempt, 0))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (p *Pool) count(kind string, err error) {
	f := client.Classify(err)
	p.mu.Lock()
	p.stats.Calls[kind]++
	p.statuses[callStatus{kind, f.Label}]++
	if f.Throttled {
		p.stats.Throttled++
	}
	p.mu.Unlock()
}

func (p *Pool) retried() {
	p.mu.Lock()
	p.stats.Retries++
	p.mu.Unlock()
}

// lower cuts the rate on a 429, at most once a second: the calls in flight
// when the server pushed back all see the same 429, and that is one signal,
// not eight. The new rate is what the server accepted over the last second
// less 5% (but at least half the current rate), or 85% of the current rate
// if that is lower: far above the server's limit it halves, near it it
// trims, instead of collapsing while 429s pile up.
func (p *Pool) lower() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.lastDown) < time.Second {
		return
	}
	p.lastDown = now
	next := p.rate * 0.85
	if p.goodput > 0 {
		// Never below half the current rate on one signal: the goodput of
		// a second spent partly waiting out Retry-After undercounts.
		next = min(next, max(p.goodput*0.95, p.rate/2))
	}
	p.setRate(max(next, min(0.5, p.cfg.RPS)), "lowered after 429")
}

// raise climbs back toward the configured rate by a fiftieth of it per
// second without a 429: additive increase, so the server's limit is probed
// gently and a 429 stays rare.
func (p *Pool) raise() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.winOK++
	if el := now.Sub(p.winStart); el >= time.Second {
		p.goodput = float64(p.winOK) / el.Seconds()
		p.winStart, p.winOK = now, 0
	}
	if p.rate >= p.cfg.RPS {
		return
	}
	if now.Sub(p.lastDown) < time.Second || now.Sub(p.lastUp) < time.Second {
		return
	}
	p.lastUp = now
	p.setRate(min(p.cfg.RPS, p.rate+max(0.5, p.cfg.RPS/50)), "raised")
}

func (p *Pool) setRate(r float64, why string) {
	p.rate = r
	p.lim.SetLimit(rate.Limit(r))
	p.lim.SetBurst(max(1, int(math.Ceil(float64(p.cfg.Burst)*r/p.cfg.RPS))))
	p.cfg.Log.Info().Float64("rps", math.Round(r*100)/100).Str("why", why).Msg("request rate changed")
}
