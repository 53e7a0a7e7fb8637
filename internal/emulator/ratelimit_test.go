package emulator

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for the emulator's Options.Now: the limit is
// judged on it, so no test waits for a token to come back.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// The server's limit in each shape a real one may have: the burst it lets
// through at once, whether a 429 says when to come back, and a limit that
// changes on a schedule counted from the first call.
func TestRateLimitShapes(t *testing.T) {
	type step struct {
		after      time.Duration // advance the clock by this, then call
		want       int
		retryAfter string // the header of a 429
	}
	tests := []struct {
		name  string
		opts  Options
		steps []step
	}{
		{"burst defaults to the limit", Options{RPS: 3}, []step{
			{0, 200, ""}, {0, 200, ""}, {0, 200, ""}, {0, 429, "1"},
			{time.Second / 3, 200, ""}, {0, 429, "1"},
		}},
		{"strict: burst 1 refuses a call a hair early", Options{RPS: 10, Burst: 1}, []step{
			{0, 200, ""}, {99 * time.Millisecond, 429, "1"}, {time.Millisecond, 200, ""},
			{100 * time.Millisecond, 200, ""}, {50 * time.Millisecond, 429, "1"},
		}},
		{"burst 3", Options{RPS: 10, Burst: 3}, []step{
			{0, 200, ""}, {0, 200, ""}, {0, 200, ""}, {0, 429, "1"},
			{time.Second, 200, ""}, {0, 200, ""}, {0, 200, ""}, {0, 429, "1"},
		}},
		{"Retry-After rounds the wait up to whole seconds", Options{RPS: 0.25, Burst: 1}, []step{
			{0, 200, ""}, {time.Second, 429, "3"}, {3 * time.Second, 200, ""},
		}},
		{"no Retry-After", Options{RPS: 10, Burst: 1, NoRetryAfter: true}, []step{
			{0, 200, ""}, {0, 429, ""}, {100 * time.Millisecond, 200, ""},
		}},
		{"schedule: halves at 6 s, back at 12 s", Options{RPS: 10, Burst: 1, RPSSchedule: "6s:5,12s:10"}, []step{
			{0, 200, ""},
			{6 * time.Second, 200, ""}, {100 * time.Millisecond, 429, "1"}, {100 * time.Millisecond, 200, ""},
			{150 * time.Millisecond, 429, "1"}, {50 * time.Millisecond, 200, ""},
			{6 * time.Second, 200, ""}, {100 * time.Millisecond, 200, ""},
		}},
		{"a step between two calls counts from when it happened", Options{RPS: 100, Burst: 5, RPSSchedule: "10ms:1"}, []step{
			{0, 200, ""}, {0, 200, ""}, {0, 200, ""}, {0, 200, ""}, {0, 200, ""}, {0, 429, "1"},
			// 10 ms at 100/s and 1010 ms at 1/s: 2.01 calls' worth.
			{1020 * time.Millisecond, 200, ""}, {0, 200, ""}, {0, 429, "1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			tt.opts.Now = clk.Now
			_, srv := newServer(t, tt.opts)
			for i, s := range tt.steps {
				clk.advance(s.after)
				got := call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`)
				if got.status != s.want || got.header.Get("Retry-After") != s.retryAfter {
					t.Fatalf("call %d: got %d Retry-After %q, want %d Retry-After %q", i, got.status, got.header.Get("Retry-After"), s.want, s.retryAfter)
				}
				if got.status == 429 && got.body["type"] != "TOO_MANY_REQUESTS" {
					t.Errorf("call %d: got Error type %v, want TOO_MANY_REQUESTS", i, got.body["type"])
				}
			}
		})
	}
}

// A refused token is answered 401, not 429, and costs the limit nothing.
func TestRateLimitCountsOnlyAuthorizedCalls(t *testing.T) {
	clk := newClock()
	_, srv := newServer(t, Options{RPS: 1, Burst: 1, Now: clk.Now})
	if got := call(t, srv, "wrong", "POST", assocPath+"/query", `{"filters":{}}`); got.status != 401 {
		t.Fatalf("bad token: got %d, want 401", got.status)
	}
	if got := call(t, srv, "test-token", "POST", assocPath+"/query", `{"filters":{}}`); got.status != 200 {
		t.Errorf("first authorized call: got %d, want 200", got.status)
	}
}

func TestParseSchedule(t *testing.T) {
	steps, err := ParseSchedule(" 6s:15, 12s:30 ")
	if err != nil || len(steps) != 2 || steps[0] != (Step{6 * time.Second, 15}) || steps[1] != (Step{12 * time.Second, 30}) {
		t.Errorf("got %v, %v; want 6s:15 and 12s:30", steps, err)
	}
	for _, bad := range []string{"6s", "6:15", "6s:0", "6s:-1", "6s:x", "12s:30,6s:15", "6s:15,6s:20", "-1s:5"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
	if _, err := New(Options{RPSSchedule: "6s:15"}); err == nil || !strings.Contains(err.Error(), "limit to start from") {
		t.Errorf("a schedule without a limit: got %v", err)
	}
}
