package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// Engine reconciles one resource.
type Engine[V any] struct {
	Res    Resource[V]
	Caller *worker.Caller // every call of the run: paced, retried, counted
	Log    zerolog.Logger
	Opts   Options
	// Emit receives the Fate of every row, exactly once, one at a time.
	Emit func(Fate[V])
	// Check, when set, says why a key the API listed could not be an input
	// row's ("" when it could). Such an entry is kept out of the run: never
	// diffed, written or pruned; where --prune would delete it, it is
	// reported failed. What the API lists is checked as input is.
	Check func(Key) string
}

// item is one row on its way through the run.
type item[V any] struct {
	row    Row[V]
	prev   *V // what the API had; nil when absent
	action Action
	done   bool // its Fate was emitted

	planned bool // from a saved plan: action is fixed
	before  *V   // the state the plan was computed from

	// theirs is another shard's row: read and diffed only so that the
	// delete it calls for counts for the guard; never written or reported.
	theirs bool
}

// Run reconciles rows: all of them as read, invalid and duplicate ones too
// (they are reported here, like every other). rows is ranged twice: once to
// count what the guards and the reads need to know, once to run. Nothing is
// kept of a row but while its read is in flight or its write waits for the
// guards. It returns a nil error when the run went to its end, even with
// failed rows; ErrStrict, ErrEmpty, a *GuardError or worker.ErrAuth
// (wrapped with the reason) when it stopped early; ctx's cause when it was
// interrupted; the error rows yielded, when reading them failed (the rows
// after it are not reported).
func (e *Engine[V]) Run(ctx context.Context, rows iter.Seq2[Row[V], error]) (Result[V], error) {
	s := e.newSched()
	t, err := s.tally(rows)
	if err != nil {
		return s.result(), err
	}
	s.groups = slices.Sorted(maps.Keys(t.named))
	stop := func(err error) (Result[V], error) {
		why := err.Error()
		if rerr := s.each(rows, nil, func(it *item[V]) { s.skip(it, why) }); rerr != nil {
			return s.result(), rerr
		}
		return s.result(), err
	}
	switch {
	case e.Opts.Strict && t.invalid > 0:
		return stop(fmt.Errorf("%w: %s; nothing was sent", ErrStrict, plural(t.invalid, "invalid row")))
	case t.valid == 0 && t.failed == 0 && !e.Opts.AllowEmpty:
		return stop(ErrEmpty)
	}
	var prune []string
	if e.Opts.Prune {
		prune = pruneGroups(t.groups, t.named, e.Opts.DefaultGroup)
		if len(s.groups) == 0 {
			s.groups = prune
		}
	}
	for _, g := range t.groups {
		s.guard(g).deleteRows = t.deletes[g]
	}
	for _, p := range prune {
		g := s.guard(p)
		g.deleteRows, g.waitAll = math.MaxInt, true // unknown until the listing is in
	}
	err = s.execute(ctx, t, prune, func(take func(*item[V])) error {
		return s.each(rows, prune, take)
	})
	return s.result(), err
}

// tally counts what the guards and the reads need: valid and invalid rows,
// the groups, their deletes, and (when reads may go by ID) rows per scope.
// The guards are judged on the whole plan, whatever the shard: every count
// but the reads' is of every shard's rows.
func (s *sched[V]) tally(rows iter.Seq2[Row[V], error]) (tally, error) {
	t := tally{deletes: map[string]int{}, named: map[string]bool{}}
	byID := s.Res.BatchSize() == 0 && !s.Opts.Prune && s.Res.PageSize(ByID) > 0
	if byID {
		t.byGroup, t.byID = map[string]int{}, map[string]int{}
	}
	reads := map[string]bool{}
	for r, err := range rows {
		if err != nil {
			return t, err
		}
		t.named[r.Key.Group] = true
		switch r.Verdict {
		case Valid:
		case Invalid:
			t.invalid++
			continue
		case Failed:
			t.failed++ // a row of the export all the same: the input is not empty
			continue
		default:
			continue
		}
		t.valid++
		g := r.Key.Group
		if _, ok := t.deletes[g]; !ok {
			t.deletes[g] = 0
			t.groups = append(t.groups, g)
		}
		if r.Delete {
			t.deletes[g]++
		} else if !s.owns(r.Key) {
			continue // another shard's, and it deletes nothing: no read of it
		}
		if !reads[g] {
			reads[g] = true
			t.reads = append(t.reads, g)
		}
		if byID {
			t.byGroup[g]++
			if t.byID[r.Key.ID] == 0 {
				t.ids = append(t.ids, r.Key.ID)
			}
			t.byID[r.Key.ID]++
		}
	}
	return t, nil
}

// each ranges rows, reporting duplicate and invalid ones and handing valid
// ones to take; a row of a group in prune protects its id from pruning,
// whatever its verdict and whichever shard's it is. Another shard's valid
// delete is handed to take too, to be read and counted for the guard.
func (s *sched[V]) each(rows iter.Seq2[Row[V], error], prune []string, take func(*item[V])) error {
	for r, err := range rows {
		if err != nil {
			return err
		}
		if len(prune) > 0 {
			s.name(r.Key)
		}
		it := &item[V]{row: r, theirs: !s.owns(r.Key)}
		if it.theirs {
			if r.Verdict == Valid && r.Delete {
				take(it)
			}
			continue
		}
		switch r.Verdict {
		case Valid:
			take(it)
		case Duplicate:
			s.emit(it, Fate[V]{Outcome: Duplicate, ErrType: "DUPLICATE", ErrMsg: r.Reason})
		case Failed:
			s.emit(it, Fate[V]{Outcome: Failed, Status: r.Status, ErrType: r.ErrType, ErrMsg: r.Reason, Retry: r.Retry})
		case Skipped:
			s.emit(it, Fate[V]{Outcome: Skipped, ErrType: r.ErrType, ErrMsg: r.Reason})
		default:
			s.emit(it, Fate[V]{Outcome: Invalid, ErrType: "INVALID_ROW", ErrMsg: r.Reason})
		}
	}
	return nil
}

// Apply makes exactly the writes of a saved plan: it re-reads every key
// they touch and, unless all are as the plan found them, writes nothing and
// returns ErrStale.
func (e *Engine[V]) Apply(ctx context.Context, writes []Write[V]) (Result[V], error) {
	s := e.newSched()
	if len(writes) == 0 {
		return s.result(), nil
	}
	t := tally{valid: len(writes), deletes: map[string]int{}}
	for _, w := range writes {
		if _, ok := t.deletes[w.Key.Group]; !ok {
			t.groups = append(t.groups, w.Key.Group)
			t.deletes[w.Key.Group] = 0
		}
		if w.Action == ActDelete {
			t.deletes[w.Key.Group]++
		}
	}
	t.reads = t.groups
	s.groups = slices.Sorted(slices.Values(t.groups))
	if e.Res.BatchSize() == 0 && e.Res.PageSize(ByID) > 0 {
		t.byGroup, t.byID = map[string]int{}, map[string]int{}
		for _, w := range writes {
			t.byGroup[w.Key.Group]++
			if t.byID[w.Key.ID] == 0 {
				t.ids = append(t.ids, w.Key.ID)
			}
			t.byID[w.Key.ID]++
		}
	}
	for _, g := range t.groups {
		s.guard(g).deleteRows, s.guard(g).waitAll = t.deletes[g], true // a saved plan is checked whole before any write
	}
	err := s.execute(ctx, t, nil, func(take func(*item[V])) error {
		for _, w := range writes {
			take(&item[V]{row: Row[V]{Src: w.Src, Key: w.Key, Want: w.Want, Delete: w.Action == ActDelete},
				action: w.Action, planned: true, before: w.Before})
		}
		return nil
	})
	return s.result(), err
}

// sched is one run of the engine. Its calls are one fan-out (reads, their
// pages and the writes overlap, and share --concurrency); its methods run
// on the run's goroutine, but for read and write, which run in the
// fan-out and hand their answers back through the queue (reads) or emit
// (writes).
type sched[V any] struct {
	*Engine[V]
	// stop ends the run early, with why: a tripped guard, a stale plan, the
	// input failing. A fatal call (credentials refused) ends the fan-out.
	stop context.CancelCauseFunc
	g    *errgroup.Group
	app  applier[V]

	guards   map[string]*guard
	open     bool       // writes may start: no guard can trip any more
	held     []*item[V] // writes waiting for the gate
	stale    []string   // how the keys of a saved plan changed since
	pruned   []*item[V]
	listed   map[string]*listing[V] // by scope, when scopes are listed whole
	inflight int                    // reads started and not settled
	answers  queue[V]
	// disturbed are the listings that kept changing while they were read:
	// what they did not show may exist still.
	disturbed []string
	wouldStop error // a dry run's tripped guard

	groups []string // named by the rows, for the Result

	mu     sync.Mutex // emits and what they count
	counts Counts
	plan   []Write[V]
}

// listing is a scope read whole: what it has, and which of its keys the
// rows name (they are not pruned).
type listing[V any] struct {
	found    map[Key]V
	named    map[Key]bool
	refused  map[Key]string // listed, but failing Engine.Check
	complete bool
	err      error
}

func (e *Engine[V]) newSched() *sched[V] {
	s := &sched[V]{Engine: e, guards: map[string]*guard{}, listed: map[string]*listing[V]{},
		answers: queue[V]{ready: make(chan struct{}, 1)}}
	s.app = applier[V]{res: e.Res, caller: e.Caller, lookup: s.lookup}
	return s
}

func (s *sched[V]) result() Result[V] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Result[V]{Counts: s.counts, Plan: s.plan, Groups: s.groups}
}

// task is a read on its way, with the items it answers.
type task[V any] struct {
	read     Read
	group    []string // the groups whose guard waits for it
	sizeOnly bool     // only the first page is read, for the group's size
	items    []*item[V]
	ans      answer[V]
	err      error // the read failed (a worker.ErrAuth stops the run)
	// refused are the entries it listed that fail Engine.Check, with why.
	refused map[Key]string
}

// queue hands answered reads from the pool's goroutines to the run's: it
// never blocks a read (a read holds a pool slot that the run may be waiting
// for), and it holds at most the reads in flight.
type queue[V any] struct {
	mu    sync.Mutex
	q     []*task[V]
	ready chan struct{}
}

func (q *queue[V]) push(t *task[V]) {
	q.mu.Lock()
	q.q = append(q.q, t)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop returns the next answered read; with wait, it waits for one.
func (q *queue[V]) pop(wait bool) *task[V] {
	for {
		q.mu.Lock()
		if len(q.q) > 0 {
			t := q.q[0]
			q.q[0] = nil
			q.q = q.q[1:]
			q.mu.Unlock()
			return t
		}
		q.mu.Unlock()
		if !wait {
			return nil
		}
		<-q.ready
	}
}

// execute reads, diffs, guards and writes the items feed hands it; prune
// lists the groups to empty of what no row names. Every group's guard
// waits for the end of the feed as for a read: deletes are counted as rows
// come.
func (s *sched[V]) execute(ctx context.Context, t tally, prune []string, feed func(take func(*item[V])) error) error {
	run, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	g, gctx := s.Caller.Group(run)
	s.stop, s.g = stop, g
	ctx = gctx
	sh := shape{batch: s.Res.BatchSize(), page: [2]int{s.Res.PageSize(ByGroup), s.Res.PageSize(ByID)},
		sized:      func(g string) bool { return s.guards[g] != nil && s.guards[g].needsSize(s.Opts.MaxDeletes) },
		groupsOnly: s.Opts.Shard.Count > 1}
	plan := planReads(t, prune, sh)
	for _, g := range s.guards {
		g.pending++ // the feed
	}
	for _, scope := range plan.list {
		tk := &task[V]{read: Read{Side: plan.side, Scope: scope}}
		if plan.side == ByGroup {
			tk.group = []string{scope}
		}
		s.launch(ctx, tk)
	}
	for _, g := range plan.sized {
		s.launch(ctx, &task[V]{read: Read{Side: ByGroup, Scope: g}, group: []string{g}, sizeOnly: true})
	}
	for len(s.listed) < len(plan.list) && s.inflight > 0 { // listings first: rows are diffed against them
		s.settle(ctx, s.answers.pop(true))
	}
	var batches *batcher[V]
	if plan.batch > 0 {
		batches = newBatcher[V](plan.batch)
	}
	err := feed(func(it *item[V]) {
		for t := s.answers.pop(false); t != nil; t = s.answers.pop(false) {
			s.settle(ctx, t)
		}
		switch {
		case ctx.Err() != nil:
			s.skip(it, why(context.Cause(ctx)))
		case batches == nil:
			s.decide(ctx, it, s.listingOf(plan.side, it))
			if len(s.held) >= max(plan.batch, 30) {
				s.release(ctx) // a batch's worth of writes
			}
		default:
			if b := batches.add(it); b != nil {
				s.launchBatch(ctx, b)
			}
		}
	})
	if err != nil {
		stop(&inputError{err})
	}
	if batches != nil {
		for _, b := range batches.rest() {
			if ctx.Err() != nil {
				s.skipAll(b, why(context.Cause(ctx)))
				continue
			}
			s.launchBatch(ctx, b)
		}
	}
	if s.Opts.Prune {
		for _, g := range prune {
			if l := s.listed[g]; l != nil && l.complete && ctx.Err() == nil {
				s.prune(g, l)
			}
		}
	}
	for _, g := range s.guards {
		g.pending-- // the feed is done
	}
	s.release(ctx)
	for s.inflight > 0 {
		s.settle(ctx, s.answers.pop(true))
	}
	// Why the run ended: a fatal call (the fan-out's error), or what
	// stopped it (a guard, a stale plan, the input, the caller's context).
	cause := g.Wait()
	if cause == nil {
		cause = context.Cause(run)
	}
	s.skipAll(s.held, why(cause))
	s.skipAll(s.pruned, why(cause))
	var ie *inputError
	switch {
	case errors.As(cause, &ie):
		return ie.error
	case cause == nil && s.wouldStop != nil:
		return s.wouldStop
	case cause == nil && len(s.disturbed) > 0:
		slices.Sort(s.disturbed)
		return fmt.Errorf("%w: %s, each read %d times; associations no row names may remain there: run again",
			ErrIncomplete, strings.Join(s.disturbed, ", "), maxRelists+1)
	}
	return cause
}

// inputError is the feed failing: the rows can't be read further.
type inputError struct{ error }

func (e *inputError) Unwrap() error { return e.error }

// why a row is skipped: what stopped the run (its context's cause), or
// nothing did.
func why(cause error) string {
	var ge *GuardError
	var ie *inputError
	switch {
	case errors.Is(cause, worker.ErrAuth), errors.As(cause, &ge), errors.Is(cause, ErrStale):
		return cause.Error()
	case errors.As(cause, &ie):
		return "not attempted: reading the input failed: " + ie.Error()
	case cause != nil:
		return "interrupted before this row was sent"
	}
	return "not attempted"
}

// owns reports whether the shard writes k (Owns).
func (s *sched[V]) owns(k Key) bool { return Owns(s.Opts.Shard, s.Res, k) }

// shadow settles another shard's row once its read answered: a delete it
// calls for counts for the guard; nothing else of it is this shard's.
func (s *sched[V]) shadow(it *item[V], deletes bool) {
	if deletes {
		s.guard(it.row.Key.Group).deletes++
	}
	it.done = true
}

func (s *sched[V]) guard(g string) *guard {
	st := s.guards[g]
	if st == nil {
		st = &guard{size: -1}
		s.guards[g] = st
	}
	return st
}

// launchBatch starts the filtered read of a batch of one group's items.
func (s *sched[V]) launchBatch(ctx context.Context, items []*item[V]) {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.row.Key.ID
	}
	g := items[0].row.Key.Group
	s.launch(ctx, &task[V]{read: Read{Side: ByGroup, Scope: g, IDs: ids}, group: []string{g}, items: items})
}

// launch starts a read in the fan-out; its limit is what bounds the rows
// waiting for an answer.
func (s *sched[V]) launch(ctx context.Context, t *task[V]) {
	for _, g := range t.group {
		s.guard(g).pending++
	}
	s.inflight++
	started := worker.Go(ctx, s.g, func() error {
		s.read(ctx, t)
		s.answers.push(t)
		if errors.Is(t.err, worker.ErrAuth) {
			return t.err
		}
		return nil
	})
	if !started {
		s.inflight--
		for _, g := range t.group {
			s.guard(g).pending--
		}
		s.skipAll(t.items, why(context.Cause(ctx)))
	}
}

// listingOf is the listing that answers an item.
func (s *sched[V]) listingOf(side Side, it *item[V]) *listing[V] {
	if side == ByID {
		return s.listed[it.row.Key.ID]
	}
	return s.listed[it.row.Key.Group]
}

// name marks a key as named by a row: its listing must not prune it.
func (s *sched[V]) name(k Key) {
	if l := s.listed[k.Group]; l != nil && l.found != nil {
		_, ok := l.found[k]
		_, refused := l.refused[k]
		if ok || refused {
			l.named[k] = true
		}
	}
}

// A listing disturbed while it was read is read again, this many times.
const maxRelists = 3

// page fetches one page of r (kind list or query), keeping how the call
// went in last. Its error is the call's, or worker.ErrAuth. Entries that
// fail Engine.Check are left out of the page, and kept in refused when it
// is not nil.
func (s *sched[V]) page(r Read, last *worker.Result, refused map[Key]string) func(ctx context.Context, token string) (Page[V], error) {
	kind := "query"
	if r.Listing() {
		kind = "list"
	}
	return func(ctx context.Context, token string) (Page[V], error) {
		var p Page[V]
		res, fatal := s.Caller.Do(ctx, kind, func(ctx context.Context) error {
			var err error
			p, err = s.Res.ReadPage(ctx, r, token)
			return err
		})
		*last = res
		switch {
		case fatal != nil:
			return p, fatal
		case res.Err != nil:
			return p, res.Err
		case res.Interrupted:
			return p, context.Cause(ctx)
		}
		if s.Check != nil {
			n := len(p.Found)
			p.Found = slices.DeleteFunc(p.Found, func(f Found[V]) bool {
				why := s.Check(f.Key)
				if why != "" && refused != nil {
					refused[f.Key] = why
				}
				return why != ""
			})
			p.refused = n - len(p.Found)
		}
		return p, nil
	}
}

// read runs a task's read, following pages.
func (s *sched[V]) read(ctx context.Context, t *task[V]) {
	var last worker.Result
	for relist := 1; ; relist++ {
		t.refused = map[Key]string{}
		t.ans, t.err = follow(ctx, t.read, t.sizeOnly, s.page(t.read, &last, t.refused))
		if t.err != nil {
			t.err = &readError{t.err, last.Attempts, last.Duration}
			return
		}
		if !t.ans.disturbed || relist > maxRelists {
			return
		}
		s.Log.Warn().Str("scope", t.read.Scope).Int("found", len(t.ans.found)).Int("total", t.ans.total).
			Msg("the listing changed while it was read; reading it again")
		if !s.Caller.Pause(ctx, relist) {
			return
		}
	}
}

// lookup re-reads one key: what the API has for it now (nil when absent).
func (s *sched[V]) lookup(ctx context.Context, k Key) (*V, error) {
	r := Read{Side: ByGroup, Scope: k.Group}
	switch {
	case s.Res.BatchSize() > 0:
		r.IDs = []string{k.ID}
	case s.Res.PageSize(ByGroup) == 0:
		r.Side, r.Scope = ByID, k.ID // only the ID's groups can be listed
	}
	var last worker.Result
	a, err := follow(ctx, r, false, s.page(r, &last, nil))
	if err != nil {
		return nil, err
	}
	if v, ok := a.found[k]; ok {
		return &v, nil
	}
	return nil, nil
}

// settle takes a read's answer: what exists, the size a guard needs, what
// each item calls for, and the writes it starts or holds.
func (s *sched[V]) settle(ctx context.Context, t *task[V]) {
	s.inflight--
	for _, g := range t.group {
		s.guard(g).pending--
	}
	whole := t.read.Listing() && !t.sizeOnly
	if t.err != nil {
		if t.sizeOnly && ctx.Err() == nil {
			s.stop(fmt.Errorf("can't check the delete guard of %s: reading how many associations it has failed: %w", t.read.Scope, t.err))
			return
		}
		if t.read.Side == ByGroup && t.read.Listing() {
			s.guard(t.read.Scope).size = 0 // its rows failed with it: it writes nothing
		}
		if whole {
			s.listed[t.read.Scope] = &listing[V]{err: t.err}
		}
		for _, it := range t.items {
			s.fail(ctx, it, t.err)
		}
		s.release(ctx)
		return
	}
	if t.read.Side == ByGroup && t.read.Listing() {
		g := s.guard(t.read.Scope)
		switch {
		case t.ans.complete:
			g.size = len(t.ans.found)
		case t.sizeOnly:
			g.size = max(t.ans.total, len(t.ans.found))
		}
	}
	if whole {
		s.listed[t.read.Scope] = &listing[V]{found: t.ans.found, named: map[Key]bool{}, refused: t.refused, complete: t.ans.complete}
	}
	if len(t.refused) > 0 {
		s.Log.Warn().Str("scope", t.read.Scope).Int("entries", len(t.refused)).
			Msg("the API listed entries that fail the input's checks: they are left alone")
	}
	if t.ans.disturbed {
		s.disturbed = append(s.disturbed, fmt.Sprintf("%s (found %d of the %d it said it had)", t.read.Scope, len(t.ans.found), t.ans.total))
	}
	for _, it := range t.items {
		s.diff(it, t.ans.found)
	}
	s.release(ctx)
}

// decide diffs an item against its scope's listing.
func (s *sched[V]) decide(ctx context.Context, it *item[V], l *listing[V]) {
	switch {
	case l == nil:
		s.skip(it, "not attempted: no read answered it")
	case l.err != nil && it.theirs:
		s.shadow(it, false) // its group's listing failed: this shard writes nothing there
	case l.err != nil:
		s.fail(ctx, it, l.err)
	default:
		s.diff(it, l.found)
	}
}

// fail reports an item whose read failed (skipped when the run stopped).
func (s *sched[V]) fail(ctx context.Context, it *item[V], err error) {
	if it.theirs {
		// Its query failed: for all this shard knows, the delete is due.
		s.shadow(it, it.row.Delete && ctx.Err() == nil)
		return
	}
	if ctx.Err() != nil {
		s.skip(it, why(context.Cause(ctx)))
		return
	}
	f := worker.Classify(err)
	fate := Fate[V]{Outcome: Failed, Status: f.Status, ErrType: f.Type, ErrMsg: f.Message, Retry: f.Retry || errors.As(err, new(endless))}
	var re *readError
	if errors.As(err, &re) {
		fate.Attempts, fate.Duration = re.attempts, re.took
		if re.attempts > 1 {
			fate.ErrMsg = fmt.Sprintf("%s (after %d attempts)", fate.ErrMsg, re.attempts)
		}
	}
	s.emit(it, fate)
}

// readError is a read that failed, with what its last call tried: the
// rows it fails report those attempts, not 0.
type readError struct {
	err      error
	attempts int
	took     time.Duration
}

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// diff decides what an item calls for, given what exists.
func (s *sched[V]) diff(it *item[V], found map[Key]V) {
	it.prev = nil
	if v, ok := found[it.row.Key]; ok {
		it.prev = &v
	}
	if it.planned {
		switch {
		case s.same(it.before, it.prev):
			s.hold(it) // as it was planned from: written once the whole plan is checked
		case diff(s.Res.Equal, it.row, it.prev) == ActNone:
			// The API holds what the plan wants already: this plan was
			// applied before (a rerun after a kill, or after success).
			s.emit(it, Fate[V]{Outcome: Unchanged, ErrMsg: "already applied: the API holds what the plan wants"})
		default:
			s.stale = append(s.stale, fmt.Sprintf("%s: planned from %s, now %s", it.row.Key.ID, describe(it.before), describe(it.prev)))
			s.hold(it)
		}
		return
	}
	if it.row.Conditional && !s.same(it.row.Expect, it.prev) {
		s.emit(it, Fate[V]{Outcome: Skipped, ErrType: ChangedSince, ErrMsg: changedSince(it.prev, it.row.Expect)})
		return
	}
	it.action = diff(s.Res.Equal, it.row, it.prev)
	if it.theirs {
		s.shadow(it, it.action == ActDelete)
		return
	}
	switch {
	case it.action == ActNone:
		s.emit(it, Fate[V]{Outcome: Unchanged})
	case s.Opts.DryRun:
		s.planned(it)
	default:
		s.hold(it)
	}
}

// prune adds a delete for every association of a complete listing that no
// row names; another shard's are counted for the guard, not written.
func (s *sched[V]) prune(group string, l *listing[V]) {
	for _, k := range pruneKeys(group, l.found, l.named) {
		if !s.owns(k) {
			s.guard(group).deletes++
			continue
		}
		v := l.found[k]
		it := &item[V]{row: Row[V]{Key: k, Delete: true}, prev: &v, action: ActDelete}
		if s.Opts.DryRun {
			s.planned(it)
			continue
		}
		s.pruned = append(s.pruned, it)
		s.hold(it)
	}
	for _, k := range slices.SortedFunc(maps.Keys(l.refused), func(a, b Key) int { return cmp.Compare(a.ID, b.ID) }) {
		if k.Group == group && !l.named[k] && s.owns(k) {
			n := s.Res.Names()
			s.emit(&item[V]{row: Row[V]{Key: k, Delete: true}, action: ActDelete}, Fate[V]{Outcome: Failed, ErrType: "INVALID_LISTING",
				ErrMsg: fmt.Sprintf("the API listed %s %q in %s %s, which no row could name (%s): not deleted; remove it by hand",
					n.ID, k.ID, n.Group, k.Group, l.refused[k])})
		}
	}
}

// hold queues a write until the gate opens, counting deletes for the guard.
func (s *sched[V]) hold(it *item[V]) {
	if it.action == ActDelete {
		s.guard(it.row.Key.Group).deletes++
	}
	s.held = append(s.held, it)
}

// release starts the held writes once the guards allow it; a tripped guard,
// or a stale saved plan, stops the run. A dry run writes nothing but says
// whether a sync would have been stopped.
func (s *sched[V]) release(ctx context.Context) {
	if s.Opts.DryRun {
		if _, err := s.gate(); err != nil && s.wouldStop == nil {
			s.wouldStop = fmt.Errorf("a sync would stop before its first write: %w", err)
		}
		return
	}
	if ctx.Err() != nil {
		return
	}
	if !s.open {
		open, err := s.gate()
		if err != nil {
			s.stop(err)
			return
		}
		if !open {
			return
		}
		if len(s.stale) > 0 {
			slices.Sort(s.stale)
			s.stop(fmt.Errorf("%w: %d of the ids it writes changed since it was made (%s); nothing was written; make a new plan",
				ErrStale, len(s.stale), strings.Join(s.stale[:min(3, len(s.stale))], "; ")))
			return
		}
		s.open = true
	}
	writes := s.held
	s.held = nil
	for i, it := range writes {
		if !worker.Go(ctx, s.g, func() error { return s.write(ctx, it) }) {
			s.skipAll(writes[i:], why(context.Cause(ctx)))
			return
		}
	}
}

// gate is the planner's gate over this run's guards, its refusal saying
// how many shards the plan it judged spans.
func (s *sched[V]) gate() (bool, error) {
	open, err := gate(s.guards, s.Opts.MaxDeletes)
	var ge *GuardError
	if errors.As(err, &ge) {
		ge.Shards = s.Opts.Shard.Count
	}
	return open, err
}

// write applies one item's write and reports it; its error is fatal
// (worker.ErrAuth), for the fan-out.
func (s *sched[V]) write(ctx context.Context, it *item[V]) error {
	a := s.app.apply(ctx, it.row, it.action)
	fate := Fate[V]{Outcome: a.outcome, Status: a.status, Attempts: a.attempts, Duration: a.duration}
	switch {
	case a.changed != "":
		fate.ErrType, fate.ErrMsg = ChangedSince, a.changed
	case a.outcome == Skipped:
		fate.ErrType, fate.ErrMsg = "SKIPPED", "interrupted before this row was sent"
	case a.err != nil && a.outcome != Failed:
		fate.ErrMsg = "confirmed by a re-read after: " + worker.Classify(a.err).Message
	case a.err != nil:
		f := worker.Classify(a.err)
		// Answers that kept contradicting each other may settle by the
		// next run.
		fate.ErrType, fate.ErrMsg, fate.Retry = f.Type, f.Message, f.Retry || errors.Is(a.err, errGaveUp)
		if a.attempts > 1 {
			fate.ErrMsg = fmt.Sprintf("%s (after %d attempts)", fate.ErrMsg, a.attempts)
		}
	}
	s.emit(it, fate)
	return a.fatal
}

// planned reports a dry run's write, keeping it for a saved plan.
func (s *sched[V]) planned(it *item[V]) {
	if it.action == ActDelete {
		s.guard(it.row.Key.Group).deletes++
	}
	s.mu.Lock()
	if s.Opts.KeepPlan {
		w := Write[V]{Key: it.row.Key, Action: it.action, Before: it.prev, Src: it.row.Src}
		if it.action != ActDelete {
			w.Want = it.row.Want
		}
		s.plan = append(s.plan, w)
	}
	s.mu.Unlock()
	s.emit(it, Fate[V]{Outcome: Planned})
}

func (s *sched[V]) same(a, b *V) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return s.Res.Equal(*a, *b)
}

func describe[V any](v *V) string {
	if v == nil {
		return "absent"
	}
	return fmt.Sprint(*v)
}

// changedSince says why a Conditional row is left alone: what the API
// holds now, against what the row expected it to hold.
func changedSince[V any](now, expect *V) string {
	holds, was := "no association", "none"
	if now != nil {
		holds = fmt.Sprint(*now)
	}
	if expect != nil {
		was = fmt.Sprint(*expect)
	}
	return fmt.Sprintf("changed since: the API holds %s now, where %s was expected; left alone", holds, was)
}

// emit is the one place a decision becomes a row's Fate.
func (s *sched[V]) emit(it *item[V], f Fate[V]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it.done = true
	if it.theirs {
		return // another shard reports it
	}
	f.Row, f.Prev, f.Action = it.row, it.prev, it.action
	s.counts.Add(f.Outcome)
	ev := s.Log.Debug()
	if f.Outcome == Failed || f.ErrType == ChangedSince { // a row left alone is news too
		ev = s.Log.Warn()
	}
	n := s.Res.Names()
	ev.Str(n.LogGroup, it.row.Key.Group).Str(n.LogID, it.row.Key.ID).Str("op", f.Action.String()).
		Str("outcome", f.Outcome.String()).Int("status", f.Status).Int("attempt", f.Attempts).
		Int64("duration_ms", f.Duration.Milliseconds()).Str("error", f.ErrMsg).Msg("row done")
	s.Emit(f)
}

// skipAll reports every item not reported yet as skipped, with why.
func (s *sched[V]) skipAll(items []*item[V], why string) {
	for _, it := range items {
		s.skip(it, why)
	}
}

// skip reports an item as skipped, with why, unless it was reported.
func (s *sched[V]) skip(it *item[V], why string) {
	if !it.done {
		s.emit(it, Fate[V]{Outcome: Skipped, ErrType: "SKIPPED", ErrMsg: why})
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
