package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The reference pages publish no rate limit and say nothing of how bursty it
// is or whether a 429 carries Retry-After, so the emulator plays each
// reading: a token bucket of any burst (1 is a strict server that refuses a
// call sent a hair early), Retry-After on or off, and a limit that changes
// while a run goes on.

// Step is a change of the server's limit: from At after the first call on,
// the limit is RPS.
type Step struct {
	At  time.Duration
	RPS float64
}

// ParseSchedule reads a spec like "6s:15,12s:30": at 6 s after the first
// call the limit becomes 15 calls/s, at 12 s 30 calls/s. Offsets must grow.
func ParseSchedule(spec string) ([]Step, error) {
	var out []Step
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		at, rps, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("rate step %q: want OFFSET:RPS, e.g. 6s:15", part)
		}
		d, err := time.ParseDuration(at)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("rate step %q: offset must be a duration like 6s", part)
		}
		r, err := strconv.ParseFloat(rps, 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("rate step %q: limit must be a number above 0", part)
		}
		if len(out) > 0 && d <= out[len(out)-1].At {
			return nil, fmt.Errorf("rate step %q: offsets must grow", part)
		}
		out = append(out, Step{At: d, RPS: r})
	}
	return out, nil
}

// limiter is the server's rate limit, decided when a call arrives: a token
// bucket that starts full and refills at a rate that may follow a schedule.
type limiter struct {
	base       float64 // the limit before the first step
	steps      []Step
	burst      float64
	retryAfter bool

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	start   time.Time // of the first call: the schedule counts from it
	started bool
}

func newLimiter(o Options) (*limiter, error) {
	steps, err := ParseSchedule(o.RPSSchedule)
	if err != nil {
		return nil, err
	}
	if o.RPS <= 0 {
		if len(steps) > 0 {
			return nil, fmt.Errorf("a rate schedule needs a limit to start from")
		}
		return nil, nil
	}
	burst := o.Burst
	if burst <= 0 {
		burst = max(1, int(o.RPS))
	}
	return &limiter{base: o.RPS, steps: steps, burst: float64(burst), tokens: float64(burst), retryAfter: !o.NoRetryAfter}, nil
}

// rateAt is the limit at offset off from the first call.
func (l *limiter) rateAt(off time.Duration) float64 {
	r := l.base
	for _, s := range l.steps {
		if s.At > off {
			break
		}
		r = s.RPS
	}
	return r
}

// take decides a call arriving at now: let through, or refused with how
// long until it would have been.
func (l *limiter) take(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		l.start, l.last, l.started = now, now, true
	}
	// Refill piece by piece, so a step between two calls counts from when
	// it happened.
	from, to := l.last.Sub(l.start), now.Sub(l.start)
	for from < to {
		end := to
		for _, s := range l.steps {
			if s.At > from {
				end = min(end, s.At)
				break
			}
		}
		l.tokens = min(l.burst, l.tokens+(end-from).Seconds()*l.rateAt(from))
		from = end
	}
	if now.After(l.last) {
		l.last = now
	}
	// A hair of tolerance: sums of float seconds must not refuse a call
	// that arrives exactly on time.
	if l.tokens >= 1-1e-9 {
		l.tokens = max(0, l.tokens-1)
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.rateAt(to) * float64(time.Second))
}

// refusal is the 429 for a call the limit turned away: Retry-After in whole
// seconds (what HTTP allows), at least one, unless the server sends none.
func (l *limiter) refusal(wait time.Duration) (answer, http.Header) {
	a := errAnswer(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "rate limit exceeded")
	if !l.retryAfter {
		return a, nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return a, http.Header{"Retry-After": {strconv.Itoa(secs)}}
}
