package worker

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"
)

// A discrete-event simulation of the pool against a throttling server, on a
// virtual clock: the control law's tests run minutes of traffic in
// milliseconds, the same every time, with no goroutine and no sleep.

// simShape is a server's limit: a token bucket judged on arrival.
type simShape struct {
	rps        float64
	burst      float64
	retryAfter bool
	steps      []simStep // later limits, from an offset on
}

type simStep struct {
	at  time.Duration
	rps float64
}

func (s simShape) limitAt(t time.Duration) float64 {
	r := s.rps
	for _, st := range s.steps {
		if st.at <= t {
			r = st.rps
		}
	}
	return r
}

// allowed is what the limit lets through over [0, end], burst aside.
func (s simShape) allowed(end time.Duration) float64 {
	total, at, r := 0.0, time.Duration(0), s.rps
	for _, st := range s.steps {
		if st.at >= end {
			break
		}
		total += r * (st.at - at).Seconds()
		at, r = st.at, st.rps
	}
	return total + r*(end-at).Seconds()
}

type simServer struct {
	simShape
	tokens float64
	last   time.Duration
}

// take judges a call arriving at t; a refusal says when to come back.
func (s *simServer) take(t time.Duration) (bool, time.Duration) {
	for from := s.last; from < t; {
		end := t
		for _, st := range s.steps {
			if st.at > from {
				end = min(end, st.at)
				break
			}
		}
		s.tokens = min(s.burst, s.tokens+(end-from).Seconds()*s.limitAt(from))
		from = end
	}
	s.last = max(s.last, t)
	if s.tokens >= 1-1e-9 {
		s.tokens = max(0, s.tokens-1)
		return true, 0
	}
	if !s.retryAfter {
		return false, 0
	}
	wait := (1 - s.tokens) / s.limitAt(t)
	return false, time.Duration(max(1, math.Ceil(wait))) * time.Second
}

// simClient is how the pool is driven: what bulksync sync --rps R --burst B
// --concurrency C does with n writes.
type simClient struct {
	rps         float64
	burst       int
	concurrency int
	calls       int
	latency     time.Duration // of an answer, with ±50% jitter
	jitter      time.Duration // of an arrival after the send, up to this
	maxAttempts int
}

type simResult struct {
	accepted, refused, failed int
	end                       time.Duration
	allowed                   float64
	rates                     []simRate // the pacing rate after each change
}

type simRate struct {
	at   time.Duration
	rate float64
}

func (r simResult) goodput() float64  { return float64(r.accepted) / r.allowed }
func (r simResult) share429() float64 { return float64(r.refused) / float64(r.accepted+r.refused) }

// rateAt is the pacing rate at t.
func (r simResult) rateAt(t time.Duration) float64 {
	rate := r.rates[0].rate
	for _, p := range r.rates {
		if p.at > t {
			break
		}
		rate = p.rate
	}
	return rate
}

// reached is how long after from the pacing rate first met ok; -1 if never.
func (r simResult) reached(from time.Duration, ok func(float64) bool) time.Duration {
	if ok(r.rateAt(from)) {
		return 0
	}
	for _, p := range r.rates {
		if p.at >= from && ok(p.rate) {
			return p.at - from
		}
	}
	return -1
}

type simCall struct {
	attempt int
	sent    time.Duration
	paced   bool
}

type simEvent struct {
	at   time.Duration
	seq  int // FIFO among events at the same time
	call *simCall
	// answer: the call's attempt was answered; otherwise it is ready to wait
	// for the pacer (new, or a retry after its back-off).
	answer    bool
	throttled bool
	wait      time.Duration // Retry-After of a 429
}

type simEvents []simEvent

func (q simEvents) Len() int { return len(q) }
func (q simEvents) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simEvents) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simEvents) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simEvents) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// simulate plays c against shape until every call has ended.
func simulate(shape simShape, c simClient, seed uint64) simResult {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pc := newPacer(c.rps, c.burst)
	cfg := New(Config{RPS: c.rps, Burst: c.burst, MaxAttempts: c.maxAttempts}).cfg // for its back-off
	srv := &simServer{simShape: shape, tokens: shape.burst}
	res := simResult{rates: []simRate{{0, pc.rate}}}

	var events simEvents
	seq := 0
	push := func(ev simEvent) { seq++; ev.seq = seq; heap.Push(&events, ev) }
	var queue []*simCall // waiting for the pacer, first come first served
	started := 0
	startNext := func(at time.Duration) {
		if started < c.calls {
			started++
			push(simEvent{at: at, call: &simCall{}})
		}
	}
	for range c.concurrency {
		startNext(0)
	}
	now := time.Duration(0)
	for {
		// The head of the queue asks the pacer, as the pool's waiter does,
		// re-asking whenever something happened.
		next := time.Duration(math.MaxInt64)
		for len(queue) > 0 {
			d, paced := pc.admit(epoch.Add(now))
			if d > 0 {
				next = now + d
				break
			}
			call := queue[0]
			call.paced = paced
			queue = queue[1:]
			call.attempt++
			call.sent = now
			arrive := now + time.Duration(rng.Float64()*float64(c.jitter))
			ok, wait := srv.take(arrive)
			lat := time.Duration(float64(c.latency) * (0.5 + rng.Float64()))
			push(simEvent{at: arrive + lat, call: call, answer: true, throttled: !ok, wait: wait})
		}
		if len(events) == 0 && len(queue) == 0 {
			break
		}
		if len(events) > 0 && events[0].at <= next {
			ev := heap.Pop(&events).(simEvent)
			now = ev.at
			if !ev.answer {
				queue = append(queue, ev.call)
				continue
			}
			before := pc.rate
			o := accepted
			if ev.throttled {
				o = throttled
			}
			pc.answered(epoch.Add(ev.call.sent), ev.call.paced, epoch.Add(now), o)
			if pc.rate != before {
				res.rates = append(res.rates, simRate{now, pc.rate})
			}
			switch {
			case !ev.throttled:
				res.accepted++
				startNext(now) // the slot takes the next call
			case ev.call.attempt >= c.maxAttempts:
				res.refused++
				res.failed++
				startNext(now)
			default:
				// The call keeps its slot through its back-off, as in the pool.
				res.refused++
				push(simEvent{at: now + backoff(cfg, ev.call.attempt, ev.wait, rng.Float64()), call: ev.call})
			}
			continue
		}
		now = next
	}
	res.end = now
	res.allowed = shape.allowed(now)
	return res
}
