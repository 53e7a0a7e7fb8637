package worker

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/emulator"
	"golang.org/x/oauth2"
)

func fastCaller(cfg Config) *Caller {
	cfg.BaseBackoff = time.Millisecond
	cfg.MaxBackoff = 5 * time.Millisecond
	cfg.MaxRetryAfter = 5 * time.Millisecond
	if cfg.RPS == 0 {
		cfg.RPS = 10000
	}
	return New(cfg)
}

func emulated(t *testing.T, faults string) *client.Client {
	t.Helper()
	e, err := emulator.New(emulator.Options{StaticToken: "tok", Faults: faults, Seed: 1, SlowDelay: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	c, err := client.New(client.Options{Endpoint: srv.URL, Token: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"})})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetriesUntilSuccess(t *testing.T) {
	for _, fault := range []string{"500:0.5", "503:0.5", "502:0.5", "504:0.5", "429:0.5", "reset:0.5", "slow:0.5"} {
		t.Run(fault, func(t *testing.T) {
			c := emulated(t, fault)
			p := fastCaller(Config{MaxAttempts: 20, RequestTimeout: 100 * time.Millisecond})
			// Retries are the point here, not pacing (control_test.go): a
			// 429 at random, half the time, would cut the rate to the floor.
			p.pace.min = p.cfg.RPS
			retried := 0
			for i := 0; i < 20; i++ {
				res, _ := p.Do(context.Background(), "query", func(ctx context.Context) error {
					_, err := c.QueryAssociations(ctx, emulator.DefaultProvider, client.QueryRequest{})
					return err
				})
				if res.Err != nil {
					t.Fatalf("call %d: %v after %d attempts", i, res.Err, res.Attempts)
				}
				retried += res.Attempts - 1
			}
			if s := p.Stats(); s.Retries != retried || retried == 0 {
				t.Errorf("got %d retries counted, %d seen; want equal and above 0", s.Retries, retried)
			}
		})
	}
}

func TestNotRetried(t *testing.T) {
	c := emulated(t, "")
	p := fastCaller(Config{})
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
		want int
	}{
		{"400", func(ctx context.Context) error {
			return c.CreateAssociation(ctx, emulator.DefaultProvider, client.Association{ExternalUserID: "1"})
		}, 400},
		{"404", func(ctx context.Context) error { return c.DeleteAssociation(ctx, emulator.DefaultProvider, "none") }, 404},
	} {
		res, fatal := p.Do(context.Background(), "x", tc.call)
		if client.StatusOf(res.Err) != tc.want || res.Attempts != 1 || fatal != nil {
			t.Errorf("%s: got %v after %d attempts, want %d after 1", tc.name, res.Err, res.Attempts, tc.want)
		}
	}
}

func TestAttemptsCapped(t *testing.T) {
	c := emulated(t, "503:1")
	p := fastCaller(Config{MaxAttempts: 3})
	res, _ := p.Do(context.Background(), "query", func(ctx context.Context) error {
		_, err := c.QueryAssociations(ctx, emulator.DefaultProvider, client.QueryRequest{})
		return err
	})
	if res.Attempts != 3 || client.StatusOf(res.Err) != 503 {
		t.Errorf("got %d attempts ending %v, want 3 ending 503", res.Attempts, res.Err)
	}
}

func TestReauthOnceOn401(t *testing.T) {
	p := fastCaller(Config{})
	resets := 0
	p.cfg.Reauth = func() bool { resets++; return true }
	unauthorized := &client.APIError{Status: 401}
	calls := 0
	// A second 401 within one call is final: one re-auth per call, never a
	// loop of refreshes. The fourth call succeeds, so that a mutant that
	// re-auths again fails here instead of looping for ever.
	res, fatal := p.Do(context.Background(), "create", func(context.Context) error {
		if calls++; calls > 3 {
			return nil
		}
		return unauthorized
	})
	if calls != 2 || resets != 1 || client.StatusOf(res.Err) != 401 || !errors.Is(fatal, ErrAuth) {
		t.Errorf("got %d calls %d resets %v (%v), want 2 calls, 1 reset, ending 401 and the run stopped", calls, resets, res.Err, fatal)
	}
	calls = 0
	res, fatal = p.Do(context.Background(), "create", func(context.Context) error {
		calls++
		if calls == 1 {
			return unauthorized
		}
		return nil
	})
	if res.Err != nil || res.Attempts != 2 || fatal != nil {
		t.Errorf("401 then success: got %v (%v) after %d attempts", res.Err, fatal, res.Attempts)
	}
}

func TestStopsWhenContextEnds(t *testing.T) {
	p := New(Config{RPS: 0.001, Burst: 1})
	ctx, cancel := context.WithCancel(context.Background())
	first, _ := p.Do(ctx, "x", func(context.Context) error { return nil })
	cancel()
	calls := 0
	second, _ := p.Do(ctx, "x", func(context.Context) error { calls++; return nil })
	if first.Err != nil || !second.Interrupted || calls != 0 {
		t.Errorf("got first %+v, second %+v with %d calls; want the second interrupted before calling", first, second, calls)
	}
	g, gctx := p.Group(ctx)
	if Go(gctx, g, func() error { calls++; return nil }) {
		t.Errorf("Go started a task after the context ended")
	}
	_ = g.Wait()
}

func TestInFlightCallOutlivesCancel(t *testing.T) {
	p := fastCaller(Config{RequestTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	res, _ := p.Do(ctx, "x", func(actx context.Context) error {
		cancel()
		return actx.Err() // the attempt's own context is not cancelled by the run's
	})
	if res.Err != nil {
		t.Errorf("got %v, want the attempt in flight to finish", res.Err)
	}
}

// A fan-out never runs more than Concurrency tasks at once: with three
// held, a fourth waits for one of them to finish.
func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := fastCaller(Config{Concurrency: 3})
		g, ctx := p.Group(context.Background())
		release := make(chan struct{})
		for i := 0; i < 3; i++ {
			if !Go(ctx, g, func() error { <-release; return nil }) {
				t.Fatal("Go refused a task with the context alive")
			}
		}
		ran, returned := make(chan struct{}), make(chan struct{})
		go func() {
			Go(ctx, g, func() error { close(ran); return nil })
			close(returned)
		}()
		synctest.Wait() // everything that can run has run
		select {
		case <-returned:
			t.Fatal("a fourth task was taken while three were running")
		default:
		}
		close(release)
		<-ran
		<-returned
		if err := g.Wait(); err != nil {
			t.Errorf("Wait: %v", err)
		}
	})
}

// A task's error is the fan-out's: it cancels what the other tasks run
// under, and Go starts nothing more. A row's failure is never returned.
func TestFatalErrorStopsTheFanOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := fastCaller(Config{Concurrency: 2})
		g, ctx := p.Group(context.Background())
		Go(ctx, g, func() error {
			_, err := p.Do(ctx, "create", func(context.Context) error { return &client.APIError{Status: 403} })
			return err
		})
		calls := 0
		Go(ctx, g, func() error {
			<-ctx.Done()
			_, err := p.Do(ctx, "create", func(context.Context) error { calls++; return nil })
			return err
		})
		synctest.Wait()
		if Go(ctx, g, func() error { calls++; return nil }) {
			t.Error("Go started a task after a fatal error")
		}
		if err := g.Wait(); !errors.Is(err, ErrAuth) || calls != 0 {
			t.Errorf("got %v with %d calls after it, want ErrAuth and none", err, calls)
		}
	})
}

// The back-off is full jitter over a cap that doubles per attempt: exact
// values with a fixed random source (a back-off that does not grow, or has
// no jitter, fails here), never above MaxBackoff, never below a capped
// Retry-After.
func TestBackoff(t *testing.T) {
	cfg := Config{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 3 * time.Second}
	for _, tt := range []struct {
		attempt    int
		retryAfter time.Duration
		u          float64
		want       time.Duration
	}{
		{1, 0, 0.5, 50 * time.Millisecond},
		{2, 0, 0.5, 100 * time.Millisecond},
		{3, 0, 0.5, 200 * time.Millisecond},
		{3, 0, 0.25, 100 * time.Millisecond},
		{4, 0, 1, 800 * time.Millisecond},
		{5, 0, 1, time.Second}, // capped
		{60, 0, 0.5, 500 * time.Millisecond},
		{1, 0, 0, 0},
		{1, 2 * time.Second, 0.5, 2 * time.Second}, // Retry-After wins
		{1, time.Hour, 0.5, 3 * time.Second},       // within its own cap
	} {
		if got := backoff(cfg, tt.attempt, tt.retryAfter, tt.u); got != tt.want {
			t.Errorf("attempt %d, Retry-After %v, u %v: got %v, want %v", tt.attempt, tt.retryAfter, tt.u, got, tt.want)
		}
	}
	// A call's retries wait exactly that: the gaps between its attempts on
	// synctest's clock, with the jitter fixed.
	synctest.Test(t, func(t *testing.T) {
		c := New(Config{RPS: 1000, BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxAttempts: 5, Rand: func() float64 { return 0.5 }})
		c.pace.min = 1000 // the 503s below must not move the rate
		var at []time.Time
		c.Do(context.Background(), "query", func(context.Context) error { at = append(at, time.Now()); return &client.APIError{Status: 503} })
		var gaps []time.Duration
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i].Sub(at[i-1]))
		}
		want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
		if !slices.Equal(gaps, want) {
			t.Errorf("gaps between attempts: got %v, want %v", gaps, want)
		}
	})
}

// The waiters take turns at the pacer, each re-reading the rate: under
// 16 goroutines a server sees calls no closer than 1/--rps, with no burst
// at the start, and a cut applies to the very next call although fifteen
// others are waiting. Time is synctest's virtual clock: calls answer at once.
func TestPoolPacesUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rps, refuse = 29, 100 // the 100th call started is answered 429
		p := New(Config{RPS: rps, Concurrency: 16, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		var mu sync.Mutex
		var starts []time.Time
		g, ctx := p.Group(context.Background())
		for range 16 {
			Go(ctx, g, func() error {
				for range 10 {
					p.Do(ctx, "create", func(context.Context) error {
						mu.Lock()
						defer mu.Unlock()
						starts = append(starts, time.Now())
						if len(starts) == refuse {
							return &client.APIError{Status: 429}
						}
						return nil
					})
				}
				return nil
			})
		}
		_ = g.Wait()
		if len(starts) != 161 {
			t.Fatalf("got %d calls, want 160 and one retry", len(starts))
		}
		for i := 1; i < len(starts); i++ {
			gap := starts[i].Sub(starts[i-1])
			switch {
			case i == refuse: // right after the 429: the rate is halved (the end of slow start)
				cut := rps * deepBeta
				if want := time.Duration(float64(time.Second) / cut); gap < want || gap > want+time.Microsecond {
					t.Errorf("call %d, after the cut: got gap %v, want %v", i+1, gap, want)
				}
			case gap < time.Second/rps-time.Microsecond: // the limiter counts in whole nanoseconds; the pacer rounds waits to the microsecond
				t.Errorf("call %d: got gap %v, want at least 1/%d s", i+1, gap, rps)
			}
		}
	})
}

// A raise reaches a caller already waiting: it re-reads the rate at once,
// rather than sleeping out the gap the old rate set.
func TestPoolWaiterRereadsARaise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(Config{RPS: 100})
		p.pace.throttled, p.pace.rate = true, 1 // one call a second, past slow start
		start := time.Now()
		p.Do(context.Background(), "x", func(context.Context) error { return nil })
		var second time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			p.Do(context.Background(), "x", func(context.Context) error { second = time.Now(); return nil })
		}()
		synctest.Wait() // the second caller is waiting out its gap of a second
		p.mu.Lock()
		p.pace.rate = 10
		p.pace.apply(time.Now())
		close(p.changed) // as answered does when the rate changes
		p.changed = make(chan struct{})
		p.mu.Unlock()
		<-done
		if got, want := second.Sub(start), 100*time.Millisecond; got != want {
			t.Errorf("second call after %v, want %v: 1/10 s after the first", got, want)
		}
	})
}

// Rate is the configured ceiling (what a run's duration is judged by);
// Pacing is where the pacer is now, a quarter of it before any answer.
func TestRateAndPacing(t *testing.T) {
	p := New(Config{RPS: 100})
	if p.Rate() != 100 || p.Pacing() != 25 {
		t.Errorf("got Rate %v, Pacing %v; want 100 and 25", p.Rate(), p.Pacing())
	}
}

// Retry is the calls' retry loop for what is not an API call: the same
// back-off and attempts, no pacing, nothing counted as an API retry.
func TestRetryOfARemoteFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := New(Config{BaseBackoff: 100 * time.Millisecond, MaxAttempts: 4, Rand: func() float64 { return 1 }})
		errBusy, errGone := errors.New("busy"), errors.New("gone")
		temporary := func(err error) bool { return errors.Is(err, errBusy) }
		var at []time.Time
		err := c.Retry(context.Background(), func(context.Context) error {
			at = append(at, time.Now())
			if len(at) < 3 {
				return errBusy
			}
			return nil
		}, temporary)
		if err != nil || len(at) != 3 || at[1].Sub(at[0]) != 100*time.Millisecond || at[2].Sub(at[1]) != 200*time.Millisecond {
			t.Errorf("got %v after %d tries at %v, want success on the third after 100ms and 200ms", err, len(at), at)
		}
		tries := 0
		if err := c.Retry(context.Background(), func(context.Context) error { tries++; return errGone }, temporary); !errors.Is(err, errGone) || tries != 1 {
			t.Errorf("a lasting error: %v after %d tries, want it after 1", err, tries)
		}
		tries = 0
		if err := c.Retry(context.Background(), func(context.Context) error { tries++; return errBusy }, temporary); !errors.Is(err, errBusy) || tries != 4 {
			t.Errorf("always busy: %v after %d tries, want MaxAttempts, 4", err, tries)
		}
		if s := c.Stats(); s.Retries != 0 || len(s.Calls) != 0 {
			t.Errorf("stats %+v: a file's retries are not API calls", s)
		}
	})
}
