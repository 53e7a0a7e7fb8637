// Package worker is the one pool every API call goes through: a bounded
// number in flight, one shared pacer that adapts to 429s (pacer.go), and
// retries with exponential back-off and full jitter. It knows which failures
// are worth retrying, not what a call means.
package worker

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/rs/zerolog"
)

// Config sets the pool's limits.
type Config struct {
	RPS            float64       // most calls started per second, retries included
	Burst          int           // calls idle credit may start back to back, until the first 429 (default 1: none)
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
	// Tasks run on at most Concurrency long-lived workers: a goroutine per
	// task would start with a small stack and grow it through the HTTP
	// client on every call.
	tasks   chan func() // to an idle worker; nil tells it to stop
	running sync.WaitGroup
	// turn is held by the one caller asking the pacer: callers queue for it
	// in arrival order, so each is served alone and re-reads the rate when
	// its turn comes.
	turn chan struct{}

	mu       sync.Mutex
	workers  int
	pace     *pacer
	changed  chan struct{} // closed when the rate changes: the waiter re-asks
	stats    Stats
	statuses map[callStatus]int
}

// New builds a pool; zero fields get the SPEC's defaults.
func New(cfg Config) *Pool {
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
	p := &Pool{
		cfg:      cfg,
		tasks:    make(chan func()),
		turn:     make(chan struct{}, 1),
		pace:     newPacer(cfg.RPS, cfg.Burst),
		changed:  make(chan struct{}),
		stats:    Stats{Calls: map[string]int{}},
		statuses: map[callStatus]int{},
	}
	return p
}

// Go runs task in the pool, waiting for a free worker. It returns false,
// without running task, when ctx has ended, before or while it waited.
func (p *Pool) Go(ctx context.Context, task func()) bool {
	if ctx.Err() != nil {
		return false
	}
	p.running.Add(1)
	select {
	case p.tasks <- task: // an idle worker took it
		return true
	default:
	}
	p.mu.Lock()
	if p.workers < p.cfg.Concurrency {
		p.workers++
		p.mu.Unlock()
		go p.work(task)
		return true
	}
	p.mu.Unlock()
	select {
	case p.tasks <- task: // every worker was busy: one is free now
		return true
	case <-ctx.Done():
		p.running.Done()
		return false
	}
}

func (p *Pool) work(task func()) {
	for ; task != nil; task = <-p.tasks {
		task()
		p.running.Done()
	}
}

// Wait waits for every task started with Go, then lets the idle workers
// go. It must not run concurrently with Go.
func (p *Pool) Wait() {
	p.running.Wait()
	p.mu.Lock()
	n := p.workers
	p.workers = 0
	p.mu.Unlock()
	for range n {
		p.tasks <- nil
	}
}

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

// Rate returns the configured rate: the most calls per second the pool
// starts, whatever the server's answers.
func (p *Pool) Rate() float64 { return p.cfg.RPS }

// Pacing returns the rate calls are paced at now: below Rate while slow
// start climbs, or after the server's 429s.
func (p *Pool) Pacing() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pace.rate
}

// ticket is one attempt's start: when, and whether it waited for the pacer.
type ticket struct {
	sent  time.Time
	paced bool
}

// wait returns when a call may start, or false once ctx ends first.
func (p *Pool) wait(ctx context.Context) (ticket, bool) {
	if ctx.Err() != nil {
		return ticket{}, false
	}
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return ticket{}, false
	}
	defer func() { <-p.turn }()
	paced := false
	for {
		p.mu.Lock()
		now := time.Now()
		d := p.pace.admit(now, paced)
		changed := p.changed
		p.mu.Unlock()
		if d == 0 {
			return ticket{now, paced}, true
		}
		paced = true
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-changed: // a cut or a raise: ask again at the new rate
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return ticket{}, false
		}
	}
}

// answered tells the pacer how an attempt went.
func (p *Pool) answered(t ticket, f Failure) {
	o := accepted
	switch {
	case f.Throttled:
		o = throttled
	case f.Status == 0 && f.Label != "2xx", f.Status >= 500:
		o = failed // no answer, or the server's own trouble: nothing about the rate
	}
	p.mu.Lock()
	before := p.pace.rate
	p.pace.answered(t.sent, t.paced, time.Now(), o)
	after := p.pace.rate
	if after != before {
		close(p.changed)
		p.changed = make(chan struct{})
	}
	p.mu.Unlock()
	if after < before {
		p.cfg.Log.Info().Float64("rps", math.Round(after*100)/100).Str("why", "lowered after 429").Msg("request rate changed")
	}
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
		t, ok := p.wait(ctx)
		if !ok {
			res.Interrupted = true
			break
		}
		actx, cancel := client.AttemptContext(ctx, p.cfg.RequestTimeout)
		err := call(actx)
		cancel()
		res.Attempts = attempt
		res.Err = err
		f := Classify(err)
		p.count(kind, f)
		p.answered(t, f)
		if err == nil {
			break
		}
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
	return p.backoffWith(attempt, retryAfter, rand.Float64())
}

// backoffWith is backoff with the jitter u, from 0 to 1, given.
func (p *Pool) backoffWith(attempt int, retryAfter time.Duration, u float64) time.Duration {
	ceiling := p.cfg.BaseBackoff << min(attempt-1, 30)
	if ceiling <= 0 || ceiling > p.cfg.MaxBackoff {
		ceiling = p.cfg.MaxBackoff
	}
	d := time.Duration(u * float64(ceiling))
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

func (p *Pool) count(kind string, f Failure) {
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
