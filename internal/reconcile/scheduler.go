package reconcile

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/bulksync/bulksync/internal/client"
	"github.com/bulksync/bulksync/internal/report"
	"github.com/bulksync/bulksync/internal/worker"
	"github.com/rs/zerolog"
)

// Engine reconciles one resource.
type Engine[V any] struct {
	Res  Resource[V]
	Pool *worker.Pool
	Log  zerolog.Logger
	Opts Options
	// Emit receives the Fate of every row, exactly once, one at a time.
	Emit func(Fate[V])
}

// item is one row on its way through the run.
type item[V any] struct {
	row    Row[V]
	prev   *V // what the API had; nil when absent
	action report.Action
	done   bool // its Fate was emitted

	planned bool // from a saved plan: action is fixed
	before  *V   // the state the plan was computed from
}

// Run reconciles rows: all of them as read, invalid and duplicate ones too
// (they are reported here, like every other). It returns a nil error when the
// run went to its end, even with failed rows; ErrStrict, ErrEmpty, a
// *GuardError or ErrAuth (wrapped with the reason) when it stopped early;
// ctx's cause when it was interrupted.
func (e *Engine[V]) Run(ctx context.Context, rows iter.Seq[Row[V]]) (Result[V], error) {
	s := e.newSched(ctx)
	defer s.cancel(nil)
	var items []*item[V]
	invalid := 0
	for r := range rows {
		if !e.Opts.Shard.Has(r.Key.Group, r.Key.ID) {
			continue // another shard's row
		}
		s.named[r.Key] = true // an invalid row still protects its id from pruning
		it := &item[V]{row: r}
		switch r.Verdict {
		case Valid:
			items = append(items, it)
		case Duplicate:
			s.emit(it, Fate[V]{Outcome: report.Duplicate, ErrType: "DUPLICATE", ErrMsg: r.Reason})
		default:
			invalid++
			s.emit(it, Fate[V]{Outcome: report.Invalid, ErrType: "INVALID_ROW", ErrMsg: r.Reason})
		}
	}
	switch {
	case e.Opts.Strict && invalid > 0:
		err := fmt.Errorf("%w: %s; nothing was sent", ErrStrict, plural(invalid, "invalid row"))
		s.skipAll(items, err.Error())
		return s.result(), err
	case len(items) == 0 && !e.Opts.AllowEmpty:
		return s.result(), ErrEmpty
	}
	var prune []string
	if e.Opts.Prune {
		prune = pruneGroups(items, s.named, e.Opts.DefaultGroup)
	}
	err := s.execute(items, prune)
	return s.result(), err
}

// pruneGroups is the groups --prune empties of what no row names: those of
// the valid rows or, when there is none, those any row names, or else the
// default group.
func pruneGroups[V any](items []*item[V], named map[Key]bool, def string) []string {
	var groups []string
	seen := map[string]bool{}
	add := func(g string) {
		if g != "" && !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	for _, it := range items {
		add(it.row.Key.Group)
	}
	if len(groups) == 0 {
		for k := range named {
			add(k.Group)
		}
		slices.Sort(groups)
	}
	if len(groups) == 0 {
		add(def)
	}
	return groups
}

// Apply makes exactly the writes of a saved plan: it re-reads every key
// they touch and, unless all are as the plan found them, writes nothing and
// returns ErrStale.
func (e *Engine[V]) Apply(ctx context.Context, writes []Write[V]) (Result[V], error) {
	s := e.newSched(ctx)
	defer s.cancel(nil)
	items := make([]*item[V], 0, len(writes))
	for _, w := range writes {
		items = append(items, &item[V]{row: Row[V]{Src: w.Src, Key: w.Key, Want: w.Want, Delete: w.Action == report.ActDelete},
			action: w.Action, planned: true, before: w.Before})
	}
	if len(items) == 0 {
		return s.result(), nil
	}
	err := s.execute(items, nil)
	return s.result(), err
}

type sched[V any] struct {
	*Engine[V]
	ctx    context.Context
	cancel context.CancelCauseFunc
	app    applier[V]

	named  map[Key]bool // every key a row names
	guards map[string]*guard
	open   bool       // writes may start: no guard can trip any more
	held   []*item[V] // writes waiting for the gate
	stale  []string   // how the keys of a saved plan changed since
	pruned []*item[V]
	// disturbed are the listings that kept changing while they were read:
	// what they did not show may exist still.
	disturbed []string
	wouldStop error // a dry run's tripped guard

	mu     sync.Mutex // emits and what they count
	counts report.Counts
	plan   []Write[V]
}

func (e *Engine[V]) newSched(ctx context.Context) *sched[V] {
	ctx, cancel := context.WithCancelCause(ctx)
	s := &sched[V]{Engine: e, ctx: ctx, cancel: cancel, named: map[Key]bool{}, guards: map[string]*guard{}}
	s.app = applier[V]{res: e.Res, pool: e.Pool, lookup: s.lookup}
	return s
}

func (s *sched[V]) result() Result[V] {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Result[V]{Counts: s.counts, Plan: s.plan}
}

// task is a read on its way, with the items it answers.
type task[V any] struct {
	readPlan
	items []*item[V]
	ans   answer[V]
	err   error
}

// execute reads, diffs, guards and writes items; prune lists the groups to
// empty of what no row names.
func (s *sched[V]) execute(items []*item[V], prune []string) error {
	keys := make([]Key, len(items))
	for i, it := range items {
		keys[i] = it.row.Key
		g := s.guard(it.row.Key.Group)
		g.waitAll = g.waitAll || it.planned // a saved plan is checked whole before any write
		if it.row.Delete {
			g.deleteRows++
		}
	}
	for _, p := range prune {
		g := s.guard(p)
		g.deleteRows, g.waitAll = math.MaxInt, true // unknown until the listing is in
	}
	sh := shape{batch: s.Res.BatchSize(), page: [2]int{s.Res.PageSize(ByGroup), s.Res.PageSize(ByID)},
		sized: func(g string) bool { return s.guards[g] != nil && s.guards[g].needsSize(s.Opts.MaxDeletes) }}
	plans := planReads(keys, prune, sh)
	tasks := make([]*task[V], len(plans))
	for i, p := range plans {
		t := &task[V]{readPlan: p}
		for _, r := range p.rows {
			t.items = append(t.items, items[r])
		}
		for _, g := range p.group {
			s.guard(g).pending++
		}
		tasks[i] = t
	}
	s.dispatch(tasks)
	s.Pool.Wait()

	cause := context.Cause(s.ctx)
	msg := "not attempted"
	var ge *GuardError
	switch {
	case errors.Is(cause, ErrAuth), errors.As(cause, &ge), errors.Is(cause, ErrStale):
		msg = cause.Error()
	case cause != nil:
		msg = "interrupted before this row was sent"
	}
	s.skipAll(items, msg)
	s.skipAll(s.pruned, msg)
	if cause == nil && s.wouldStop != nil {
		return s.wouldStop
	}
	if cause == nil && len(s.disturbed) > 0 {
		slices.Sort(s.disturbed)
		return fmt.Errorf("%w: %s, each read %d times; associations no row names may remain there: run again",
			ErrIncomplete, strings.Join(s.disturbed, ", "), maxRelists+1)
	}
	return cause
}

func (s *sched[V]) guard(g string) *guard {
	st := s.guards[g]
	if st == nil {
		st = &guard{size: -1}
		s.guards[g] = st
	}
	return st
}

// dispatch runs the reads and, as each answers, the writes it calls for.
func (s *sched[V]) dispatch(tasks []*task[V]) {
	answered := make(chan *task[V], len(tasks))
	next, waiting := 0, 0
	for next < len(tasks) || waiting > 0 {
		// Answers first: writes are what the run is for, and the sooner a
		// batch's writes start the fewer answers sit waiting.
		select {
		case t := <-answered:
			waiting--
			s.settle(t)
			continue
		default:
		}
		if next < len(tasks) && s.ctx.Err() == nil {
			t := tasks[next]
			next++
			waiting++
			if !s.Pool.Go(s.ctx, func() { s.read(t); answered <- t }) {
				waiting--
			}
			continue
		}
		if s.ctx.Err() != nil && next < len(tasks) {
			next = len(tasks) // the rest are skipped by the caller
			continue
		}
		s.settle(<-answered)
		waiting--
	}
}

// read runs a task's read through the pool, following pages.
// A listing disturbed while it was read is read again, this many times.
const maxRelists = 3

func (s *sched[V]) read(t *task[V]) {
	kind := "query"
	if t.read.Listing() {
		kind = "list"
	}
	for relist := 1; ; relist++ {
		t.ans, t.err = follow(s.ctx, t.read, t.sizeOnly, func(ctx context.Context, token string) (Page[V], error) {
			var p Page[V]
			res := s.Pool.Do(ctx, kind, func(ctx context.Context) error {
				var err error
				p, err = s.Res.ReadPage(ctx, t.read, token)
				return err
			})
			return p, s.failure(res)
		})
		if t.err != nil || !t.ans.disturbed || relist > maxRelists {
			return
		}
		s.Log.Warn().Str("scope", t.read.Scope).Int("found", len(t.ans.found)).Int("total", t.ans.total).
			Msg("the listing changed while it was read; reading it again")
		if !s.Pool.Pause(s.ctx, relist) {
			return
		}
	}
}

// lookup re-reads one key: what the API has for it now (nil when absent).
func (s *sched[V]) lookup(ctx context.Context, k Key) (*V, error) {
	r := Read{Side: ByGroup, Scope: k.Group}
	kind := "list"
	switch {
	case s.Res.BatchSize() > 0:
		r.IDs, kind = []string{k.ID}, "query"
	case s.Res.PageSize(ByGroup) == 0:
		r.Side, r.Scope = ByID, k.ID // only the ID's groups can be listed
	}
	a, err := follow(ctx, r, false, func(ctx context.Context, token string) (Page[V], error) {
		var p Page[V]
		res := s.Pool.Do(ctx, kind, func(ctx context.Context) error {
			var err error
			p, err = s.Res.ReadPage(ctx, r, token)
			return err
		})
		return p, s.failure(res)
	})
	if err != nil {
		return nil, err
	}
	if v, ok := a.found[k]; ok {
		return &v, nil
	}
	return nil, nil
}

// failure is the error of a finished call, if it has one; refused
// credentials stop the whole run.
func (s *sched[V]) failure(res worker.Result) error {
	if res.Err == nil {
		if res.Interrupted {
			return context.Cause(s.ctx)
		}
		return nil
	}
	if client.Classify(res.Err).Auth {
		s.cancel(fmt.Errorf("%w: %v", ErrAuth, res.Err))
	}
	return res.Err
}

// settle takes a read's answer: what exists, what each item calls for, what
// --prune deletes, and the writes it starts or holds.
func (s *sched[V]) settle(t *task[V]) {
	for _, g := range t.group {
		s.guard(g).pending--
	}
	if t.err != nil {
		if t.sizeOnly && s.ctx.Err() == nil {
			s.cancel(fmt.Errorf("can't check the delete guard of %s: reading how many associations it has failed: %w", t.read.Scope, t.err))
			return
		}
		if t.read.Side == ByGroup && t.read.Listing() {
			s.guard(t.read.Scope).size = 0 // its rows failed with it: it writes nothing
		}
		if s.ctx.Err() == nil {
			f := client.Classify(t.err)
			for _, it := range t.items {
				s.emit(it, Fate[V]{Outcome: report.Failed, Status: f.Status, ErrType: f.Type, ErrMsg: f.Message})
			}
		}
		s.release()
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
		if s.Opts.Prune && t.ans.complete {
			s.prune(t.read.Scope, t.ans.found) // what it found is there, disturbed or not
		}
	}
	if t.ans.disturbed {
		s.disturbed = append(s.disturbed, fmt.Sprintf("%s (found %d of the %d it said it had)", t.read.Scope, len(t.ans.found), t.ans.total))
	}
	for _, it := range t.items {
		it.prev = nil
		if v, ok := t.ans.found[it.row.Key]; ok {
			it.prev = &v
		}
		if it.planned {
			if !s.same(it.before, it.prev) {
				s.stale = append(s.stale, fmt.Sprintf("%s: planned from %s, now %s", it.row.Key.ID, describe(it.before), describe(it.prev)))
			}
			s.hold(it)
			continue
		}
		it.action = diff(s.Res.Equal, it.row, it.prev)
		switch {
		case it.action == report.ActNone:
			s.emit(it, Fate[V]{Outcome: report.Unchanged})
		case s.Opts.DryRun:
			s.planned(it)
		default:
			s.hold(it)
		}
	}
	s.release()
}

// prune adds a delete for every association of group that no row names.
func (s *sched[V]) prune(group string, found map[Key]V) {
	for _, k := range pruneKeys(group, found, s.named, s.Opts.Shard) {
		v := found[k]
		it := &item[V]{row: Row[V]{Key: k, Delete: true}, prev: &v, action: report.ActDelete}
		s.pruned = append(s.pruned, it)
		if s.Opts.DryRun {
			s.planned(it)
			continue
		}
		s.hold(it)
	}
}

// hold queues a write until the gate opens, counting deletes for the guard.
func (s *sched[V]) hold(it *item[V]) {
	if it.action == report.ActDelete {
		s.guard(it.row.Key.Group).deletes++
	}
	s.held = append(s.held, it)
}

// release starts the held writes once the guards allow it; a tripped guard,
// or a stale saved plan, stops the run. A dry run writes nothing but says
// whether a sync would have been stopped.
func (s *sched[V]) release() {
	if s.Opts.DryRun {
		if _, err := gate(s.guards, s.Opts.MaxDeletes); err != nil && s.wouldStop == nil {
			s.wouldStop = fmt.Errorf("a sync would stop before its first write: %w", err)
		}
		return
	}
	if s.ctx.Err() != nil {
		return
	}
	if !s.open {
		open, err := gate(s.guards, s.Opts.MaxDeletes)
		if err != nil {
			s.cancel(err)
			return
		}
		if !open {
			return
		}
		if len(s.stale) > 0 {
			slices.Sort(s.stale)
			s.cancel(fmt.Errorf("%w: %d of the ids it writes changed since it was made (%s); nothing was written; make a new plan",
				ErrStale, len(s.stale), strings.Join(s.stale[:min(3, len(s.stale))], "; ")))
			return
		}
		s.open = true
	}
	writes := s.held
	s.held = nil
	for _, it := range writes {
		if !s.Pool.Go(s.ctx, func() { s.write(it) }) {
			return
		}
	}
}

// write applies one item's write and reports it.
func (s *sched[V]) write(it *item[V]) {
	a := s.app.apply(s.ctx, it.row.Key, it.row.Want, it.action)
	fate := Fate[V]{Outcome: a.outcome, Status: a.status, Attempts: a.attempts, Duration: a.duration}
	switch {
	case a.outcome == report.Skipped:
		fate.ErrType, fate.ErrMsg = "SKIPPED", "interrupted before this row was sent"
	case a.err != nil && a.outcome != report.Failed:
		fate.ErrMsg = "confirmed by a re-read after: " + client.Classify(a.err).Message
	case a.err != nil:
		f := client.Classify(a.err)
		fate.ErrType, fate.ErrMsg = f.Type, f.Message
		if f.Auth {
			s.cancel(fmt.Errorf("%w: %v", ErrAuth, a.err))
		}
		if a.attempts > 1 {
			fate.ErrMsg = fmt.Sprintf("%s (after %d attempts)", fate.ErrMsg, a.attempts)
		}
	}
	s.emit(it, fate)
}

// planned reports a dry run's write, keeping it for a saved plan.
func (s *sched[V]) planned(it *item[V]) {
	if it.action == report.ActDelete {
		s.guard(it.row.Key.Group).deletes++
	}
	s.mu.Lock()
	if s.Opts.KeepPlan {
		w := Write[V]{Key: it.row.Key, Action: it.action, Before: it.prev, Src: it.row.Src}
		if it.action != report.ActDelete {
			w.Want = it.row.Want
		}
		s.plan = append(s.plan, w)
	}
	s.mu.Unlock()
	s.emit(it, Fate[V]{Outcome: report.Planned})
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

// emit is the one place a decision becomes a row's Fate.
func (s *sched[V]) emit(it *item[V], f Fate[V]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it.done = true
	f.Row, f.Prev, f.Action = it.row, it.prev, it.action
	s.counts.Add(f.Outcome)
	ev := s.Log.Debug()
	if f.Outcome == report.Failed {
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
		if !it.done {
			s.emit(it, Fate[V]{Outcome: report.Skipped, ErrType: "SKIPPED", ErrMsg: why})
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
