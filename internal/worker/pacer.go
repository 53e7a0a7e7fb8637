package worker

import (
	"math"
	"time"

	"golang.org/x/time/rate"
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
// The law is policy only: the mechanism that spaces calls is a
// golang.org/x/time/rate Limiter (pacer, below), whose limit and burst the
// law sets, as rclone's lib/pacer keeps its Calculator apart.
type law struct {
	max   float64 // the configured rate: never faster
	min   float64 // never slower
	burst int     // credit that idle time may build, until the first 429

	rate      float64
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

func newLaw(rps float64, burst int) law {
	floor := min(0.5, rps)
	return law{max: rps, min: floor, burst: max(1, burst), rate: max(floor, rps*startShare)}
}

// capacity is the burst the limiter may build: --burst until the server
// first pushes back, one call from then on.
func (l *law) capacity() int {
	if l.throttled {
		return 1
	}
	return l.burst
}

// answered feeds back how a call started at sent went. paced says it had to
// wait for its turn: the pacer, not the work, held it back, so a faster rate
// would have been used.
func (p *law) answered(sent time.Time, paced bool, now time.Time, o outcome) {
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
func (p *law) cut(sent, now time.Time) {
	first := !p.throttled
	p.throttled = true
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

// pacer spaces calls: a rate.Limiter whose limit and burst the law sets.
// One waiter asks at a time (the pool's turn) and holds the slot it is
// given while it sleeps: a timer that wakes it late costs the next call
// nothing, and golang.org/x/time/rate's own Wait, used by many waiters at
// once, would leave slots reserved at a rate a cut has since lowered (16
// such waiters fall to a quarter of a strict server's limit).
type pacer struct {
	law
	lim  *rate.Limiter     // nil until the first call
	held *rate.Reservation // the slot of the waiter asking; nil when none
	last time.Time         // when the last call started
}

func newPacer(rps float64, burst int) *pacer { return &pacer{law: newLaw(rps, burst)} }

// admit asks whether a call may start at now. It returns 0 when it may,
// counting it as started, with paced set when it had to wait for its slot;
// otherwise how long to wait before asking again.
func (p *pacer) admit(now time.Time) (wait time.Duration, paced bool) {
	if p.lim == nil {
		// The first call goes at once and leaves no credit behind.
		p.lim = rate.NewLimiter(rate.Limit(p.rate), p.capacity())
		p.lim.AllowN(now, 1)
		p.drain(now)
		p.inflight++
		p.last = now
		return 0, false
	}
	if p.held == nil {
		p.held = p.lim.ReserveN(now, 1)
		if d := p.held.DelayFrom(now); d > 0 {
			return roundUp(d), false
		}
	} else if d := p.held.DelayFrom(now); d > 0 {
		return roundUp(d), false
	} else if p.throttled {
		// Woken late: after a 429 the next gap counts from when this call
		// really leaves, or a strict server would see two calls too close.
		p.drain(now)
		paced = true
	} else {
		paced = true
	}
	p.held = nil
	p.inflight++
	p.last = now
	return 0, paced
}

// drain drops the credit the limiter holds at now (a debt stays): the
// only way to empty a rate.Limiter is a burst of zero, for a moment.
func (p *pacer) drain(now time.Time) {
	p.lim.SetBurstAt(now, 0)
	p.lim.SetBurstAt(now, p.capacity())
}

// answered feeds back how a call started at sent went, and reports whether
// the rate changed: the waiter's slot, if it holds one, is given back, and
// it asks again at the new rate.
func (p *pacer) answered(sent time.Time, paced bool, now time.Time, o outcome) bool {
	before, wasThrottled := p.rate, p.throttled
	p.law.answered(sent, paced, now, o)
	if p.rate == before && p.throttled == wasThrottled || p.lim == nil {
		return p.rate != before
	}
	p.apply(now)
	return true
}

// apply gives the limiter the law's rate and burst, counted from when the
// last call left: the next call comes a full gap at the new rate after it,
// whatever credit the old rate built since (a cut is felt by the very next
// call, and a raise needs no call to pass first). The slot a waiter holds
// was given at the old rate: it is given back, and the waiter asks again.
func (p *pacer) apply(now time.Time) {
	p.release(now)
	p.lim.SetLimitAt(p.last, rate.Limit(p.rate))
	p.lim.SetBurstAt(p.last, p.capacity())
	p.drain(p.last)
}

// release gives back the slot of a waiter that stopped asking for it.
func (p *pacer) release(now time.Time) {
	if p.held != nil {
		p.held.CancelAt(now)
		p.held = nil
	}
}

// roundUp rounds a wait up to the microsecond: the limiter truncates a
// wait to the nanosecond below, and a waiter woken a hair early would only
// ask again.
func roundUp(d time.Duration) time.Duration {
	return (d + time.Microsecond - 1).Truncate(time.Microsecond)
}
