package worker

import (
	"math"
	"time"
)

// The control law of the shared rate. The API publishes no limit, and a
// server may be strict (a call a hair early is refused) or lenient (a bucket
// that lets a burst through and refuses only once it is empty), may or may
// not send Retry-After, and may lower its limit mid-run. So the pacer:
//
//   - spaces calls evenly at 1/rate, with no credit at the start; credit
//     saved while idle (up to Config.Burst calls) is spent back to back only
//     until the server first answers 429, and from then on the gap is
//     counted from when the last call really left;
//   - starts at a quarter of the configured rate and grows by a quarter per
//     round trip while the server accepts (slow start), so that it meets an
//     unknown limit from below;
//   - cuts the rate on a 429, once per round: only a 429 to a call sent after
//     the last cut says the cut was not enough; the calls in flight when the
//     server pushed back all hear the same 429, and that is one signal;
//   - halves at the end of slow start and when at most one call sent since
//     the last cut was accepted before this 429 (far above the limit, as
//     when the limit drops), and keeps 85% otherwise;
//   - climbs back along a CUBIC curve, as the AWS SDKs' adaptive retry mode
//     does: quickly to just below the rate that was refused, a while there,
//     then probing above it ever faster (a limit that came back up is found
//     again in seconds); its clock is the time spent pacing calls, counted
//     call by call, so a pool that waits on other things does not climb blind;
//   - is pure: the time comes in with every question, so tests run it on a
//     virtual clock.
//
// Each waiter asks alone and re-reads the rate when its turn comes, and no
// waiter holds a reservation: a cut takes effect on the very next call, and
// a raise can't squeeze the gap before it (golang.org/x/time/rate's SetLimit
// with reservations held does).
type pacer struct {
	max   float64 // the configured rate: never faster
	min   float64 // never slower
	burst float64 // credit that idle time may build, until the first 429

	rate      float64
	tokens    float64   // credit as of last: one call costs one
	last      time.Time // when the last call started
	started   bool
	inflight  int  // calls started and not answered yet: a round trip's worth
	throttled bool // the server has answered 429: slow start and credit are over

	cutAt  time.Time // a 429 to a call sent before the last cut is old news
	wmax   float64   // the plateau the curve climbs back to
	k      float64   // seconds of pacing the curve takes back to wmax
	probed float64   // seconds of pacing since the last cut
	fresh  int       // calls sent after the last cut and accepted
}

// outcome is what an answer says about the rate.
type outcome int

const (
	accepted  outcome = iota // the server took the call (any answer but 429 and its own failures)
	throttled                // 429
	failed                   // no answer, or a 5xx: nothing about the rate
)

// Constants of the control law, tuned on the simulation in control_test.go
// against every server shape of issue 17 and checked end to end by bench/.
const (
	startShare = 0.25 // slow start begins at this share of the configured rate
	startGain  = 0.25 // and grows by this share per round trip
	beta       = 0.85 // a cut keeps this share of the rate
	deepBeta   = 0.5  // or this, far above the limit
	plateau    = 0.98 // the curve's plateau, as a share of the rate refused
	// cubicC shapes the curve wmax·(1 + cubicC·(t−K)³): back from a cut by
	// beta in K = 2.2 s at any rate, about 1.8 times the plateau 3.9 s later.
	cubicC = 0.4 / 30
)

func newPacer(rps float64, burst int) *pacer {
	floor := min(0.5, rps)
	return &pacer{max: rps, min: floor, burst: float64(max(1, burst)), rate: max(floor, rps*startShare)}
}

// admit asks whether a call may start at now. It returns 0 when it may, and
// counts it as started; otherwise how long to wait before asking again.
// waited says the caller has been waiting for this moment: a timer wakes it
// late, and until the server first pushes back that lateness (up to one
// gap) is made up, or a fast rate would lose a fifth to the timer.
func (p *pacer) admit(now time.Time, waited bool) time.Duration {
	if !p.started {
		// The first call goes at once, and leaves no credit behind.
		p.started, p.last, p.tokens = true, now, 1
	}
	capacity := p.burst
	if p.throttled {
		capacity = 1
	}
	tokens := min(capacity, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	// A hair of tolerance, or float rounding could make a waiter wake a
	// nanosecond early forever.
	if tokens < 1-1e-9 {
		return time.Duration(math.Ceil((1 - tokens) / p.rate * float64(time.Second)))
	}
	late := 0.0
	if waited && !p.throttled {
		due := p.last.Add(time.Duration((1 - p.tokens) / p.rate * float64(time.Second)))
		late = min(now.Sub(due).Seconds()*p.rate, 1)
	}
	p.tokens, p.last = max(0, tokens-1)+max(0, late), now
	p.inflight++
	return 0
}

// answered feeds back how a call started at sent went. paced says it had to
// wait for its turn: the pacer, not the work, held it back, so a faster rate
// would have been used.
func (p *pacer) answered(sent time.Time, paced bool, now time.Time, o outcome) {
	p.inflight = max(0, p.inflight-1)
	switch o {
	case throttled:
		p.cut(sent, now)
		return
	case failed:
		return
	}
	if !sent.Before(p.cutAt) {
		p.fresh++
	}
	if !paced || p.rate >= p.max {
		return
	}
	if !p.throttled {
		// A round trip is as many answers as there are calls in flight.
		p.rate = min(p.max, p.rate+startGain*p.rate/float64(p.inflight+1))
		return
	}
	p.probed += 1 / p.rate
	p.rate = min(p.max, max(p.rate, p.wmax*(1+cubicC*math.Pow(p.probed-p.k, 3))))
}

// cut lowers the rate for a 429 to a call sent after the last cut.
func (p *pacer) cut(sent, now time.Time) {
	first := !p.throttled
	p.throttled, p.tokens = true, 0
	if sent.Before(p.cutAt) {
		return
	}
	// A cut below the last plateau means the limit is lower than that:
	// aim the next plateau lower still (CUBIC's fast convergence).
	if p.rate < p.wmax {
		p.wmax = p.rate * (1 + beta) / 2 * plateau
	} else {
		p.wmax = p.rate * plateau
	}
	factor := beta
	if first || p.fresh < 2 {
		factor = deepBeta
	}
	p.rate = max(p.min, p.rate*factor)
	p.wmax = max(p.wmax, p.rate)
	p.k = math.Cbrt((p.wmax - p.rate) / p.wmax / cubicC)
	p.probed, p.fresh, p.cutAt = 0, 0, now
}
