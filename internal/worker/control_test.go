package worker

import (
	"testing"
	"time"
)

// The control law against every server shape of issue 17's table: a limit of
// 30 calls/s, --rps five times that, 16 in flight, 20 ms latency. The
// simulation's arrivals jitter by up to half a millisecond after the send,
// as loopback does on an idle machine; bench/ measures the real thing.
func TestControlConvergesOnEveryServerShape(t *testing.T) {
	const limit = 30
	client := simClient{rps: 5 * limit, concurrency: 16, calls: 480, latency: 20 * time.Millisecond,
		jitter: 500 * time.Microsecond, maxAttempts: 8}
	strict := client
	strict.rps, strict.burst = limit-1, 1
	longer := client
	longer.calls = 720 // so the run outlasts the limit's return by ten seconds
	halves := []simStep{{6 * time.Second, limit / 2}, {12 * time.Second, limit}}
	tests := []struct {
		name     string
		shape    simShape
		client   simClient
		goodput  float64 // at least, of the limit, on average
		share429 float64 // at most, of all answers
	}{
		// The bucket's own burst lets it give a little more than the limit.
		{"token bucket, burst = limit, Retry-After 1", simShape{rps: limit, burst: limit, retryAfter: true}, client, 1.0, 0.035},
		{"burst 3, Retry-After 1", simShape{rps: limit, burst: 3, retryAfter: true}, client, 0.95, 0.03},
		{"burst 3, no Retry-After", simShape{rps: limit, burst: 3}, client, 0.95, 0.03},
		// A strict server refuses a call that arrives a hair early: arrival
		// jitter, not the law, sets its ceiling.
		{"burst 1, Retry-After 1", simShape{rps: limit, burst: 1, retryAfter: true}, client, 0.9, 0.02},
		{"burst 1, --rps 29 --burst 1", simShape{rps: limit, burst: 1, retryAfter: true}, strict, 0.93, 0.01},
		{"burst 3, limit halves at 6 s and comes back at 12 s", simShape{rps: limit, burst: 3, retryAfter: true, steps: halves}, longer, 0.9, 0.03},
	}
	// One seed's run is chaotic: a microsecond of rounding changes which
	// calls meet a 429, and its goodput moves by a few hundredths. So the
	// law is judged by its mean over 20 seeds, and no seed may fall more
	// than 0.03 below that bound.
	const seeds = 20
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := 0.0
			for seed := uint64(1); seed <= seeds; seed++ {
				r := simulate(tt.shape, tt.client, seed)
				sum += r.goodput()
				if r.goodput() < tt.goodput-0.03 || r.share429() > tt.share429 || r.failed > 0 {
					t.Errorf("seed %d: got goodput %.3f, %.1f%% 429s, %d failed; want goodput ≥ %.2f, ≤ %.0f%% 429s, none failed",
						seed, r.goodput(), 100*r.share429(), r.failed, tt.goodput-0.03, 100*tt.share429)
				}
				if tt.shape.steps == nil {
					continue
				}
				// Followed: within 10% of the new limit.
				down := r.reached(6*time.Second, func(rate float64) bool { return rate <= 1.1*limit/2 })
				up := r.reached(12*time.Second, func(rate float64) bool { return rate >= 0.9*limit })
				if down < 0 || down > 2*time.Second || up < 0 || up > 10*time.Second {
					t.Errorf("seed %d: got down in %v and up in %v; want at most 2 s and 10 s", seed, down, up)
				}
			}
			t.Logf("mean goodput over %d seeds: %.3f of the limit", seeds, sum/seeds)
			if mean := sum / seeds; mean < tt.goodput {
				t.Errorf("mean goodput over %d seeds: got %.3f, want at least %.2f", seeds, mean, tt.goodput)
			}
		})
	}
}

// With no limit on the server's side the pacer reaches --rps and stays
// there: slow start costs a few round trips, nothing more.
func TestControlReachesTheConfiguredRate(t *testing.T) {
	const rps = 500
	c := simClient{rps: rps, concurrency: 32, calls: 3000, latency: 20 * time.Millisecond, jitter: 500 * time.Microsecond, maxAttempts: 8}
	r := simulate(simShape{rps: 1e9, burst: 1e9}, c, 1)
	if got := float64(r.accepted) / r.end.Seconds() / rps; got < 0.98 || r.refused > 0 {
		t.Errorf("got %.3f × --rps with %d refused, want at least 0.98 and none", got, r.refused)
	}
	if got := r.rates[len(r.rates)-1].rate; got != rps {
		t.Errorf("pacing rate at the end: got %v, want %v", got, rps)
	}
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n float64) time.Time { return epoch.Add(time.Duration(n * float64(time.Millisecond))) }

// throttledPacer is a pacer past its first 429, at exactly rate calls/s.
func throttledPacer(rate float64, burst int) *pacer {
	p := newPacer(rate, burst)
	p.throttled, p.rate, p.wmax = true, rate, rate
	return p
}

// Calls are spaced at 1/rate from the first, which goes at once and leaves
// no credit: a strict server never sees two calls closer than that.
func TestPacerSpacesCallsEvenly(t *testing.T) {
	p := throttledPacer(10, 1)
	steps := []struct {
		at   float64 // ms
		want time.Duration
	}{
		{0, 0}, {0, 100 * time.Millisecond}, {40, 60 * time.Millisecond}, {100, 0},
		{150, 50 * time.Millisecond}, {200, 0},
		{1200, 0}, {1200, 100 * time.Millisecond}, // a second idle buys no burst
	}
	for i, s := range steps {
		if got := p.next(ms(s.at)); got != s.want {
			t.Errorf("step %d at %v ms: got wait %v, want %v", i, s.at, got, s.want)
		}
	}
}

// --burst lets credit saved while idle start calls back to back, but only
// until the server first answers 429; the bucket starts empty.
func TestPacerBurstOnlyUntilThrottled(t *testing.T) {
	p := newPacer(40, 4)
	p.rate = 10 // as slow start would have it, for round numbers
	if d := p.next(ms(0)); d != 0 {
		t.Fatalf("first call: got wait %v, want none", d)
	}
	if d := p.next(ms(0)); d != 100*time.Millisecond {
		t.Errorf("at the start: got wait %v, want 100ms (no credit)", d)
	}
	if d := p.next(ms(100)); d != 0 {
		t.Fatalf("second call, in its slot: got wait %v", d)
	}
	for i := range 4 { // 1 s idle: 10 calls' worth, capped at the burst
		if d := p.next(ms(1100)); d != 0 {
			t.Errorf("after idling, call %d: got wait %v, want none", i, d)
		}
	}
	if d := p.next(ms(1100)); d == 0 {
		t.Errorf("a fifth call after idling: got no wait, want the burst of 4 spent")
	}
	p.answered(ms(1100), true, ms(1120), throttled)
	if d := p.next(ms(3000)); d != 0 {
		t.Fatalf("after the 429: got wait %v, want none", d)
	}
	if d := p.next(ms(3000)); d == 0 {
		t.Errorf("after the 429 and idling: got a second call at once, want calls spaced")
	}
}

// A cut takes effect on the very next call, measured from the last one
// sent; the 429s of calls sent before the cut are the same signal.
func TestPacerCutsOncePerRound(t *testing.T) {
	p := throttledPacer(100, 1)
	for i := range 5 { // five calls in flight, 10 ms apart; two accepted after
		if d := p.next(ms(float64(10 * i))); d != 0 {
			t.Fatalf("call %d: got wait %v", i, d)
		}
	}
	p.answered(ms(0), true, ms(30), accepted)
	p.answered(ms(10), true, ms(35), accepted)
	p.answered(ms(20), true, ms(45), throttled) // the server pushes back
	if got := p.rate; got != 85 {
		t.Fatalf("after a 429: got rate %v, want 85", got)
	}
	if d, want := p.next(ms(45)), ms(40).Add(time.Second/85).Sub(ms(45)); d < want || d > want+time.Microsecond {
		t.Errorf("next call: got wait %v, want %v: 1/85 s after the last call, sent at 40 ms", d, want)
	}
	p.answered(ms(30), true, ms(50), throttled) // sent before the cut: old news
	p.answered(ms(40), true, ms(55), throttled)
	if got := p.rate; got != 85 {
		t.Errorf("after 429s of calls sent before the cut: got rate %v, want 85 still", got)
	}
	if d := p.next(ms(60)); d != 0 {
		t.Fatalf("call after the cut: got wait %v", d)
	}
	for i := range 3 {
		p.answered(ms(60), false, ms(float64(70+i)), accepted)
	}
	p.answered(ms(60), true, ms(80), throttled) // sent after the cut, and two since accepted
	if got, want := p.rate, 85*0.85; got != want {
		t.Errorf("after a 429 of a call sent after the cut: got rate %v, want %v", got, want)
	}
}

// Far above the limit, a cut halves: at the end of slow start, and when
// at most one call sent since the last cut was accepted (a limit that
// dropped).
func TestPacerCutsDeepFarAboveTheLimit(t *testing.T) {
	p := newPacer(100, 1)
	p.next(ms(0))
	p.answered(ms(0), true, ms(20), throttled)
	if got := p.rate; got != 25*deepBeta {
		t.Fatalf("first 429, in slow start at 25: got %v, want %v", got, 25*deepBeta)
	}
	p.next(ms(100))
	p.answered(ms(100), false, ms(120), accepted)
	p.next(ms(200))
	p.answered(ms(200), true, ms(220), throttled)
	if got, want := p.rate, 25*deepBeta*deepBeta; got != want {
		t.Errorf("a 429 with one call accepted since the cut: got %v, want %v", got, want)
	}
}

// Only successes of calls that had to wait for the pacer raise the rate:
// a pool held back by something else does not climb blind. Failures that
// are not 429 teach nothing.
func TestPacerRaisesOnlyWhenPacingLimits(t *testing.T) {
	for _, throttle := range []bool{false, true} {
		p := newPacer(100, 1)
		if throttle {
			p = throttledPacer(100, 1)
			p.cut(ms(0), ms(10))
		}
		before := p.rate
		for i := range 50 {
			p.next(ms(float64(100 + 200*i)))
			p.answered(ms(float64(100+200*i)), false, ms(float64(120+200*i)), accepted)
			p.next(ms(float64(150 + 200*i)))
			p.answered(ms(float64(150+200*i)), true, ms(float64(170+200*i)), failed)
		}
		if p.rate != before {
			t.Errorf("throttled %v: unpaced successes and failures moved the rate from %v to %v", throttle, before, p.rate)
		}
		p.next(ms(20000))
		p.answered(ms(20000), true, ms(20020), accepted)
		if p.rate <= before {
			t.Errorf("throttled %v: a paced success left the rate at %v, want above %v", throttle, p.rate, before)
		}
	}
}

// Slow start grows the rate by a quarter per round trip (as many answers
// as calls in flight) from a quarter of --rps, up to --rps.
func TestPacerSlowStart(t *testing.T) {
	p := newPacer(100, 1)
	if p.rate != 25 {
		t.Fatalf("start: got %v, want 25", p.rate)
	}
	now := 0.0
	send := func() {
		for p.next(ms(now)) != 0 {
			now++
		}
	}
	for range 4 { // four in flight
		send()
	}
	for range 4 { // a round trip: each answer makes room for the next call
		p.answered(ms(now), true, ms(now), accepted)
		send()
	}
	if got := p.rate; got < 25*1.25 || got > 25*1.3 {
		t.Errorf("after a round trip: got %v, want about %v", got, 25*1.25)
	}
	for range 200 {
		p.answered(ms(now), true, ms(now), accepted)
		send()
	}
	if p.rate != 100 {
		t.Errorf("after 200 accepted calls: got %v, want --rps, 100", p.rate)
	}
}

// After a cut the rate climbs back to just below the rate refused in about
// K seconds of pacing, stays near it a while, then probes above it.
func TestPacerRecoversAlongTheCurve(t *testing.T) {
	p := throttledPacer(1000, 1)
	p.rate, p.wmax, p.fresh = 30, 30, 100 // near the limit, not far above it
	p.cut(ms(0), ms(0))
	if p.rate != 30*beta {
		t.Fatalf("after the cut: got %v, want %v", p.rate, 30*beta)
	}
	plateau := 30 * plateau
	pace := func(seconds float64) { // paced successes for that much pacing time
		for end := p.probed + seconds; p.probed < end; {
			p.answered(ms(1), true, ms(2), accepted)
		}
	}
	pace(p.k / 2)
	if p.rate < 30*beta || p.rate > plateau*0.99 {
		t.Errorf("halfway back: got %v, want between the cut and the plateau %v", p.rate, plateau)
	}
	pace(p.k/2 + 0.5)
	if p.rate < plateau*0.99 || p.rate > plateau*1.01 {
		t.Errorf("at the plateau: got %v, want about %v", p.rate, plateau)
	}
	pace(4)
	if p.rate < plateau*1.5 {
		t.Errorf("4 s past the plateau: got %v, want probing well above it (1.5 × %v)", p.rate, plateau)
	}
}

// A waiter holds its slot while it sleeps, and its timer wakes it late.
// Until the server first pushes back, that lateness is made up (at most one
// gap: the burst of one caps the credit), so a fast rate is kept; after a
// 429 every gap counts from when the last call really left.
func TestPacerMakesUpTimerLateness(t *testing.T) {
	steps := []struct {
		at   float64 // ms
		want time.Duration
	}{
		{0, 0}, {0, 40 * time.Millisecond}, // 25/s: a gap of 40 ms; the waiter holds the slot at 40
		{45, 0}, {45, 35 * time.Millisecond}, // woken 5 ms late: the next is due at 80, not 85
		{80, 0}, {80, 40 * time.Millisecond},
		{150, 0}, {150, 10 * time.Millisecond}, // 30 ms late: the next is due at 160
		{160, 0}, {160, 40 * time.Millisecond},
		{290, 0}, {290, 0}, {290, 40 * time.Millisecond}, // 90 ms late: one gap made up, no more
	}
	p := newPacer(100, 1)
	for i, s := range steps {
		if got := p.next(ms(s.at)); got != s.want {
			t.Errorf("step %d at %v ms: got wait %v, want %v", i, s.at, got, s.want)
		}
	}
	p = throttledPacer(25, 1)
	p.next(ms(0))
	if got := p.next(ms(0)); got != 40*time.Millisecond {
		t.Fatalf("second call: got wait %v, want 40ms", got)
	}
	p.next(ms(45)) // 5 ms late
	if got := p.next(ms(80)); got != 5*time.Millisecond {
		t.Errorf("after a 429: got wait %v, want 5ms (40 ms after the last call left)", got)
	}
}

// next is how long a call asking at now waits: 0 when it starts.
func (p *pacer) next(now time.Time) time.Duration {
	d, _ := p.admit(now)
	return d
}
