package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
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
// bucket (golang.org/x/time/rate, on the emulator's clock) that starts full,
// whose rate may follow a schedule counted from the first call.
type limiter struct {
	retryAfter bool

	mu      sync.Mutex
	lim     *rate.Limiter
	steps   []Step // not applied yet
	start   time.Time
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
	return &limiter{lim: rate.NewLimiter(rate.Limit(o.RPS), burst), steps: steps, retryAfter: !o.NoRetryAfter}, nil
}

// onTime is how early a call may arrive and still count as on time: the
// bucket's float arithmetic must not refuse a call paced exactly.
const onTime = time.Microsecond

// take decides a call arriving at now: let through, or refused with how
// long until it would have been.
func (l *limiter) take(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		l.start, l.started = now, true
	}
	// A step between two calls takes effect from when it happened.
	for len(l.steps) > 0 && !l.start.Add(l.steps[0].At).After(now) {
		l.lim.SetLimitAt(l.start.Add(l.steps[0].At), rate.Limit(l.steps[0].RPS))
		l.steps = l.steps[1:]
	}
	r := l.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > onTime {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
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
