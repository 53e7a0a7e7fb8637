package reconcile

import (
	"context"
	"errors"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/worker"
)

// applier makes one write and follows the API's answers to the truth.
type applier[V any] struct {
	res    Resource[V]
	caller *worker.Caller
	// lookup re-reads one key: what the API has now (nil when absent); its
	// error may be worker.ErrAuth.
	lookup func(ctx context.Context, k Key) (*V, error)
}

// applied is how one write ended.
type applied struct {
	outcome  Outcome // Created, Updated, Deleted, Unchanged, Failed or Skipped
	status   int     // of the answer that decided it
	err      error   // why it failed, or what a re-read settled
	fatal    error   // worker.ErrAuth: the run must stop
	changed  string  // a conditional write left alone (Skipped): what the API holds instead
	attempts int
	duration time.Duration
}

// errGaveUp is a write whose answers kept contradicting each other.
var errGaveUp = errors.New("the API kept changing under us: gave up after create, update and re-read")

// apply makes the write that action calls for and settles what the answers
// leave open: a create that finds the id taken re-reads it (ours from an
// earlier attempt, someone else's, or another value to update), an update
// that finds it gone creates it, a delete of what is already gone is done,
// and a write that failed in a way that may still have applied (no answer,
// a 5xx, an answer nobody can read) is judged by a re-read. A conditional
// write (Row.Conditional) does not go on as another write: what changed
// under it since its read is left alone.
func (a *applier[V]) apply(ctx context.Context, r Row[V], action Action) applied {
	k, want := r.Key, r.Want
	var out applied
	act := action
	for range 4 {
		status, res, fatal := a.call(ctx, act, k, want)
		out.attempts += res.Attempts
		out.duration += res.Duration
		f := worker.Classify(res.Err)
		switch {
		case fatal != nil:
			out.outcome, out.status, out.err, out.fatal = Failed, f.Status, res.Err, fatal
			return out
		case res.Attempts == 0:
			out.outcome = Skipped // interrupted before anything was sent
			return out
		case res.Err == nil:
			out.outcome, out.status = done(act), status
			return out
		case act == ActDelete && f.Status == 404:
			out.outcome, out.status = Deleted, 404 // already gone
			return out
		case act == ActUpdate && f.Status == 404 && r.Conditional:
			out.outcome, out.status, out.changed = Skipped, 404, changedSince(nil, r.Expect)
			return out
		case act == ActUpdate && f.Status == 404:
			act = ActCreate
			continue
		case act == ActCreate && f.Status == 409:
			now, err := a.lookup(ctx, k)
			if err != nil {
				out.outcome, out.status, out.err = Failed, client.StatusOf(err), err
				if errors.Is(err, worker.ErrAuth) {
					out.fatal = err
				}
				return out
			}
			switch {
			case now == nil:
				continue // gone again between our calls: create once more
			case !a.res.Equal(want, *now) && r.Conditional:
				out.outcome, out.status, out.changed = Skipped, 409, changedSince(now, r.Expect)
				return out
			case !a.res.Equal(want, *now):
				act = ActUpdate
				continue
			}
			out.outcome, out.status = Unchanged, 409
			if out.attempts > 1 || action != ActCreate {
				out.outcome = Created // an earlier attempt of ours made it
			}
			return out
		}
		out.outcome, out.status, out.err = Failed, f.Status, res.Err
		if f.MayHaveApplied && !res.Interrupted && a.settled(ctx, k, want, act) {
			out.outcome = done(act)
		}
		return out
	}
	out.outcome, out.err = Failed, errGaveUp
	return out
}

// call makes one write; its error is worker.ErrAuth or nil.
func (a *applier[V]) call(ctx context.Context, act Action, k Key, want V) (int, worker.Result, error) {
	var status int
	res, fatal := a.caller.Do(ctx, act.String(), func(ctx context.Context) error {
		var err error
		switch act {
		case ActCreate:
			status, err = a.res.Create(ctx, k, want)
		case ActUpdate:
			status, err = a.res.Update(ctx, k, want)
		case ActDelete:
			status, err = a.res.Delete(ctx, k)
		default:
			panic("reconcile: no write for action " + act.String())
		}
		return err
	})
	return status, res, fatal
}

// settled re-reads k after a write that may have applied, and reports
// whether the API now holds what the write wanted.
func (a *applier[V]) settled(ctx context.Context, k Key, want V, act Action) bool {
	now, err := a.lookup(ctx, k)
	if err != nil {
		return false
	}
	if act == ActDelete {
		return now == nil
	}
	return now != nil && a.res.Equal(want, *now)
}

// done is the outcome of a write that succeeded.
func done(act Action) Outcome {
	switch act {
	case ActCreate:
		return Created
	case ActUpdate:
		return Updated
	case ActDelete:
		return Deleted
	}
	panic("reconcile: no outcome for action " + act.String())
}
