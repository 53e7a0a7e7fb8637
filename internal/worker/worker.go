// Package worker is the policy around one API call: every call waits its
// turn at one shared pacer (a rate.Limiter whose rate the control law in
// pacer.go adapts to 429s), is retried with exponential back-off and full
// jitter when that may help, and is counted. It says which failures are
// worth retrying and which stop a run (Classify); it knows nothing of what a
// call means. Fan-out is an errgroup per fan-out (Group, Go), bounded by
// --concurrency.
package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// ErrAuth is a run stopped because the API refused its credentials: no
// later call can succeed.
var ErrAuth = errors.New("authentication refused")

// Config sets the limits of a run's calls.
type Config struct {
	RPS            float64       // most calls started per second, retries included
	Burst          int           // calls idle credit may start back to back, until the first 429 (default 1: none)
	Concurrency    int           // most calls in flight: the limit of each fan-out
	MaxAttempts    int           // per call, the first included
	BaseBackoff    time.Duration // first back-off cap (default 200ms)
	MaxBackoff     time.Duration // cap of one computed back-off
	MaxRetryAfter  time.Duration // longest Retry-After honoured as given
	RequestTimeout time.Duration // one attempt
	// Reauth is asked on a 401 whether a retry may help: true when the
	// credentials can fetch a fresh token (the client has already dropped
	// the refused one). One such retry per call.
	Reauth func() bool
	// Rand is the jitter of back-offs, from 0 to 1 (default math/rand/v2);
	// tests fix it.
	Rand func() float64
	Log  zerolog.Logger
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

// Caller makes a run's API calls under its limits. Use one per run: its
// pacer is what every call shares.
type Caller struct {
	cfg Config
	// turn is held by the one caller asking the pacer: callers queue for it
	// in arrival order, so each is served alone and asks at the rate of the
	// moment its turn comes.
	turn chan struct{}

	mu       sync.Mutex
	pace     *pacer
	changed  chan struct{} // closed when the rate changes: the waiter asks again
	stats    Stats
	statuses map[callStatus]int
}

// New builds a Caller; zero fields get the SPEC's defaults.
func New(cfg Config) *Caller {
	if cfg.RPS <= 0 {
		cfg.RPS = 10
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 1
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
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Caller{
		cfg:      cfg,
		turn:     make(chan struct{}, 1),
		pace:     newPacer(cfg.RPS, cfg.Burst),
		changed:  make(chan struct{}),
		stats:    Stats{Calls: map[string]int{}},
		statuses: map[callStatus]int{},
	}
}

// Group starts a fan-out: at most Concurrency of its tasks run at once, and
// the first task to return an error cancels the context the others get.
// Tasks return only an error that stops the run (ErrAuth); a row's failure
// is recorded, never returned. Fan-outs of a run follow one another, so
// Concurrency bounds the calls in flight.
func (c *Caller) Group(ctx context.Context) (*errgroup.Group, context.Context) {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	return g, ctx
}

// Go starts task in g unless ctx has ended: errgroup's Go waits for a free
// slot without watching the context. It reports whether task was started.
func Go(ctx context.Context, g *errgroup.Group, task func() error) bool {
	if ctx.Err() != nil {
		return false
	}
	g.Go(task)
	return true
}

// Stats returns a copy of the counters.
func (c *Caller) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Calls: map[string]int{}, Statuses: map[string]int{}, Retries: c.stats.Retries, Throttled: c.stats.Throttled}
	for k, v := range c.stats.Calls {
		s.Calls[k] = v
	}
	for k, v := range c.statuses {
		s.Statuses[k.kind+" "+k.status] = v
	}
	return s
}

// Rate returns the configured rate: the most calls per second the run
// starts, whatever the server's answers.
func (c *Caller) Rate() float64 { return c.cfg.RPS }

// Pacing returns the rate calls are paced at now: below Rate while slow
// start climbs, or after the server's 429s.
func (c *Caller) Pacing() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pace.rate
}

// ticket is one attempt's start: when, and whether it waited for the pacer.
type ticket struct {
	sent  time.Time
	paced bool
}

// wait returns when a call may start, or false once ctx ends first.
func (c *Caller) wait(ctx context.Context) (ticket, bool) {
	if ctx.Err() != nil {
		return ticket{}, false
	}
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return ticket{}, false
	}
	defer func() { <-c.turn }()
	for {
		c.mu.Lock()
		now := time.Now()
		d, paced := c.pace.admit(now)
		changed := c.changed
		c.mu.Unlock()
		if d == 0 {
			return ticket{now, paced}, true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-changed: // a cut or a raise: ask again at the new rate
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			c.mu.Lock()
			c.pace.release(time.Now())
			c.mu.Unlock()
			return ticket{}, false
		}
	}
}

// answered tells the pacer how an attempt went.
func (c *Caller) answered(t ticket, f Failure) {
	o := accepted
	switch {
	case f.Throttled:
		o = throttled
	case f.Status == 0 && f.Label != "2xx", f.Status >= 500:
		o = failed // no answer, or the server's own trouble: nothing about the rate
	}
	c.mu.Lock()
	before := c.pace.rate
	if c.pace.answered(t.sent, t.paced, time.Now(), o) {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	after := c.pace.rate
	c.mu.Unlock()
	if after < before {
		c.cfg.Log.Info().Float64("rps", math.Round(after*100)/100).Str("why", "lowered after 429").Msg("request rate changed")
	}
}

// Do makes one call of the given kind, retrying what is worth retrying,
// each attempt paced. Once ctx ends no new attempt starts, but an attempt
// in flight runs to its own timeout: a write half-sent is better answered
// than abandoned. The Result says how the call went; the error is not nil
// only when the run must stop (ErrAuth: the credentials were refused), for
// the caller to return to its errgroup.
func (c *Caller) Do(ctx context.Context, kind string, call func(context.Context) error) (Result, error) {
	start := time.Now()
	var res Result
	reauthed := false
	res.Attempts, res.Interrupted = c.retry(ctx, func(attempt int) (next, bool) {
		if attempt > 1 {
			c.retried()
		}
		t, ok := c.wait(ctx)
		if !ok {
			return stop, false
		}
		actx, cancel := client.AttemptContext(ctx, c.cfg.RequestTimeout)
		err := call(actx)
		cancel()
		res.Err = err
		f := Classify(err)
		c.count(kind, f)
		c.answered(t, f)
		switch {
		case err == nil:
			return stop, true
		case f.Status == 401 && !reauthed && c.cfg.Reauth != nil && c.cfg.Reauth():
			reauthed = true // one fresh token per call, at once
			return next{now: true}, true
		}
		c.cfg.Log.Debug().Str("op", kind).Int("status", f.Status).Int("attempt", attempt).Bool("retry", f.Retry && attempt < c.cfg.MaxAttempts).
			Int64("duration_ms", time.Since(start).Milliseconds()).Err(err).Msg("call failed")
		return next{again: f.Retry, after: f.RetryAfter}, true
	})
	res.Duration = time.Since(start)
	if f := Classify(res.Err); f.Auth {
		return res, fmt.Errorf("%w: %w", ErrAuth, res.Err)
	}
	return res, nil
}

// Retry runs op, which is not an API call (a read or write of a remote
// file: not paced, not counted), again after the same back-off as calls
// while temporary says its error may pass, up to MaxAttempts. It returns
// op's last error, or why ctx ended before the next attempt.
func (c *Caller) Retry(ctx context.Context, op func(context.Context) error, temporary func(error) bool) error {
	var err error
	_, interrupted := c.retry(ctx, func(int) (next, bool) {
		err = op(ctx)
		return next{again: err != nil && temporary(err)}, true
	})
	if interrupted && err == nil {
		return context.Cause(ctx)
	}
	return err
}

// next is what an attempt says about the next one: whether one may help,
// the least wait the server asked for, or that it goes at once.
type next struct {
	again bool
	after time.Duration
	now   bool
}

var stop = next{}

// retry is the one retry loop: attempt runs try number n (from 1) and
// says whether another may help; between tries it waits the back-off. It
// returns the tries made, and whether ctx ended (or attempt found it
// ended, returning false) before the tries were over.
func (c *Caller) retry(ctx context.Context, attempt func(n int) (next, bool)) (tries int, interrupted bool) {
	for n := 1; ; n++ {
		nx, ok := attempt(n)
		if !ok {
			return n - 1, true
		}
		tries = n
		if nx.now {
			continue
		}
		if !nx.again || n >= c.cfg.MaxAttempts {
			return tries, false
		}
		if !sleep(ctx, c.backoff(n, nx.after)) {
			return tries, true
		}
	}
}

// backoff is the wait before the retry that follows attempt, with jitter
// from the configured source.
func (c *Caller) backoff(attempt int, retryAfter time.Duration) time.Duration {
	return backoff(c.cfg, attempt, retryAfter, c.cfg.Rand())
}

// backoff is full jitter (u, from 0 to 1) over a cap that doubles with each
// attempt from BaseBackoff up to MaxBackoff, but never less than the
// server's Retry-After (itself capped, so a confused server can't park us).
func backoff(cfg Config, attempt int, retryAfter time.Duration, u float64) time.Duration {
	ceiling := cfg.BaseBackoff << min(attempt-1, 30)
	if ceiling <= 0 || ceiling > cfg.MaxBackoff {
		ceiling = cfg.MaxBackoff
	}
	d := time.Duration(u * float64(ceiling))
	return max(d, min(retryAfter, cfg.MaxRetryAfter))
}

// Pause waits the back-off of the given attempt (1 for the first retry),
// for waits that are not a call's own retries; false when ctx ended first.
func (c *Caller) Pause(ctx context.Context, attempt int) bool {
	return sleep(ctx, c.backoff(attempt, 0))
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

func (c *Caller) count(kind string, f Failure) {
	c.mu.Lock()
	c.stats.Calls[kind]++
	c.statuses[callStatus{kind, f.Label}]++
	if f.Throttled {
		c.stats.Throttled++
	}
	c.mu.Unlock()
}

func (c *Caller) retried() {
	c.mu.Lock()
	c.stats.Retries++
	c.mu.Unlock()
}
