package worker

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/emulator"
	"golang.org/x/oauth2"
)

func fastPool(cfg Config) *Pool {
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
			p := fastPool(Config{MaxAttempts: 20, RequestTimeout: 100 * time.Millisecond})
			// Retries are the point here, not pacing (control_test.go): a
			// 429 at random, half the time, would cut the rate to the floor.
			p.pace.min = p.cfg.RPS
			retried := 0
			for i := 0; i < 20; i++ {
				res := p.Do(context.Background(), "query", func(ctx context.Context) error {
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
	p := fastPool(Config{})
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
		res := p.Do(context.Background(), "x", tc.call)
		if client.StatusOf(res.Err) != tc.want || res.Attempts != 1 {
			t.Errorf("%s: got %v after %d attempts, want %d after 1", tc.name, res.Err, res.Attempts, tc.want)
		}
	}
}

func TestAttemptsCapped(t *testing.T) {
	c := emulated(t, "503:1")
	p := fastPool(Config{MaxAttempts: 3})
	res := p.Do(context.Background(), "query", func(ctx context.Context) error {
		_, err := c.QueryAssociations(ctx, emulator.DefaultProvider, client.QueryRequest{})
		return err
	})
	if res.Attempts != 3 || client.StatusOf(res.Err) != 503 {
		t.Errorf("got %d attempts ending %v, want 3 ending 503", res.Attempts, res.Err)
	}
}

func TestReauthOnceOn401(t *testing.T) {
	p := fastPool(Config{})
	resets := 0
	p.cfg.Reauth = func() bool { resets++; return true }
	unauthorized := &client.APIError{Status: 401}
	calls := 0
	res := p.Do(context.Background(), "create", func(context.Context) error { calls++; return unauthorized })
	if calls != 2 || resets != 1 || client.StatusOf(res.Err) != 401 {
		t.Errorf("got %d calls %d resets %v, want 2 calls, 1 reset, ending 401", calls, resets, res.Err)
	}
	calls = 0
	res = p.Do(context.Background(), "create", func(context.Context) error {
		calls++
		if calls == 1 {
			return unauthorized
		}
		return nil
	})
	if res.Err != nil || res.Attempts != 2 {
		t.Errorf("401 then success: got %v after %d attempts", res.Err, res.Attempts)
	}
}

func TestStopsWhenContextEnds(t *testing.T) {
	p := New(Config{RPS: 0.001, Burst: 1})
	ctx, cancel := context.WithCancel(context.Background())
	first := p.Do(ctx, "x", func(context.Context) error { return nil })
	cancel()
	calls := 0
	second := p.Do(ctx, "x", func(context.Context) error { calls++; return nil })
	if first.Err != nil || !second.Interrupted || calls != 0 {
		t.Errorf("got first %+v, second %+v with %d calls; want the second interrupted before calling", first, second, calls)
	}
	if p.Go(ctx, func() { calls++ }) {
		t.Errorf("Go ran a task after the context ended")
	}
}

func TestInFlightCallOutlivesCancel(t *testing.T) {
	p := fastPool(Config{RequestTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	res := p.Do(ctx, "x", func(actx context.Context) error {
		cancel()
		return actx.Err() // the attempt's own context is not cancelled by the run's
	})
	if res.Err != nil {
		t.Errorf("got %v, want the attempt in flight to finish", res.Err)
	}
}

// The pool never runs more than Concurrency tasks at once: with three held,
// a fourth waits for one of them to finish, and then runs on its worker.
func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := fastPool(Config{Concurrency: 3})
		release := make(chan struct{})
		for i := 0; i < 3; i++ {
			if !p.Go(context.Background(), func() { <-release }) {
				t.Fatal("Go refused a task with the context alive")
			}
		}
		ran, returned := make(chan struct{}), make(chan struct{})
		go func() {
			p.Go(context.Background(), func() { close(ran) })
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
		p.Wait()
		if p.workers != 0 {
			t.Errorf("after Wait: got %d workers, want none left", p.workers)
		}
		if !p.Go(context.Background(), func() {}) { // the pool works again after Wait
			t.Error("Go refused a task after Wait")
		}
		p.Wait()
	})
}

// A run told to stop while Go waits for a worker starts nothing more.
func TestGoStopsWaitingWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := fastPool(Config{Concurrency: 1})
		release := make(chan struct{})
		p.Go(context.Background(), func() { <-release })
		ctx, cancel := context.WithCancel(context.Background())
		ran, result := false, make(chan bool)
		go func() { result <- p.Go(ctx, func() { ran = true }) }()
		synctest.Wait() // Go is waiting for the busy worker
		cancel()
		if <-result || ran {
			t.Errorf("Go after the context ended while waiting: started %v, want false", ran)
		}
		close(release)
		p.Wait()
	})
}

func TestBackoff(t *testing.T) {
	p := New(Config{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRetryAfter: 3 * time.Second})
	for attempt := 1; attempt < 40; attempt++ {
		ceiling := min(time.Second, 100*time.Millisecond<<min(attempt-1, 30))
		for i := 0; i < 50; i++ {
			if d := p.backoff(attempt, 0); d < 0 || d > ceiling {
				t.Fatalf("attempt %d: back-off %v outside [0, %v]", attempt, d, ceiling)
			}
		}
	}
	if d := p.backoff(1, 2*time.Second); d < 2*time.Second {
		t.Errorf("Retry-After 2s: got %v, want at least 2s", d)
	}
	if d := p.backoff(1, time.Hour); d != 3*time.Second {
		t.Errorf("Retry-After 1h: got %v, want the 3s cap", d)
	}
}

// The pool's waiters take turns at the pacer, each re-reading the rate: under
// 16 goroutines a server sees calls no closer than 1/--rps, with no burst
// at the start, and a cut applies to the very next call although fifteen
// others are waiting. Time is synctest's virtual clock: calls answer at once.
func TestPoolPacesUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rps, refuse = 29, 100 // the 100th call started is answered 429
		p := New(Config{RPS: rps, Concurrency: 16, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		var mu sync.Mutex
		var starts []time.Time
		for range 16 {
			p.Go(context.Background(), func() {
				for range 10 {
					p.Do(context.Background(), "create", func(context.Context) error {
						mu.Lock()
						defer mu.Unlock()
						starts = append(starts, time.Now())
						if len(starts) == refuse {
							return &client.APIError{Status: 429}
						}
						return nil
					})
				}
			})
		}
		p.Wait()
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
			case gap < time.Second/rps:
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
